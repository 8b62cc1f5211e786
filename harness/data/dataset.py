"""The validated, immutable form every loader produces: a list of images with ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError, expected

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True, slots=True)
class ImageItem:
    """One image and its ground truth.

    Attributes:
        path: the image file.
        width: image width in pixels.
        height: image height in pixels.
        boxes: float64 (N, 4) xyxy pixel boxes (empty when there is no ground truth).
        classes: int64 (N,) class indices.
        iscrowd: bool (N,) crowd flags (COCO), or None.
        area: float64 (N,) GT areas used for COCO size ranges, or None (box area).
        image_id: the id this image has in its source (COCO), or None.
    """

    path: Path
    width: int
    height: int
    boxes: np.ndarray
    classes: np.ndarray
    iscrowd: np.ndarray | None = None
    area: np.ndarray | None = None
    image_id: int | None = None


@dataclass(frozen=True, slots=True)
class Dataset:
    """A scored set of images.

    Attributes:
        names: class names, index = class id.
        items: the images, in a stable order.
        source: what was loaded (path of data.yaml, COCO json or folder).
        split: which split, or None.
        with_ground_truth: False for a plain folder (only speed and agreement can be scored).
        dropped: how many images of the source were not loaded (never silent).
        dropped_reason: why they were not loaded.
    """

    names: tuple[str, ...]
    items: tuple[ImageItem, ...]
    source: str
    split: str | None
    with_ground_truth: bool
    dropped: int = 0
    dropped_reason: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def n_boxes(self) -> int:
        return int(sum(len(it.classes) for it in self.items))


def list_images(folder: Path) -> list[Path]:
    """Image files below ``folder`` (recursive), sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) read from the image header, without decoding the pixels.

    Raises:
        InputError: the file is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except (UnidentifiedImageError, OSError, ModuleNotFoundError) as exc:
        # ModuleNotFoundError: once ultralytics is imported, it patches Image.open to retry an
        # unidentified file with the optional pi-heif plugin, which is not installed.
        raise InputError(expected("a readable image", f"{exc.__class__.__name__}: {exc}", str(path))) from None


def load_image_folder(folder: Path, *, limit: int | None = None, names: tuple[str, ...] = ()) -> Dataset:
    """A plain folder of images with no ground truth: only speed and agreement with FP32 are scored."""
    if not folder.is_dir():
        raise InputError(expected("a folder of images", "a file" if folder.exists() else "no such folder", str(folder)))
    images = list_images(folder)
    if not images:
        raise InputError(expected(f"image files ({', '.join(IMAGE_SUFFIXES)})", "none", str(folder)))
    total = len(images)
    images = images[:limit] if limit is not None else images
    empty_b, empty_c = np.zeros((0, 4)), np.zeros(0, np.int64)
    items = []
    for p in images:
        w, h = image_size(p)
        items.append(ImageItem(path=p, width=w, height=h, boxes=empty_b, classes=empty_c))
    return Dataset(names=names, items=tuple(items), source=str(folder), split=None, with_ground_truth=False,
                   dropped=total - len(items), dropped_reason=f"--limit {limit}" if total > len(items) else None)
