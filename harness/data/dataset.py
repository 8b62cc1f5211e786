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
    """(width, height) read from the image header, after checking the file is complete.

    The pixels are not decoded (a dataset of thousands of images loads in a moment), but a
    truncated file is caught by its missing end: a JPEG must end with its end-of-image marker
    (trailing zero padding allowed), a PNG with its ``IEND`` chunk, a BMP or WebP must be as long
    as its header says; other formats are decoded once. A truncated image is refused, naming the
    file, rather than decoded in part and scored (see docs/reliability.md).

    Raises:
        InputError: the file is not a readable image, or is truncated.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            size, fmt = (int(im.width), int(im.height)), im.format
            if fmt not in _TAIL_CHECKED:
                im.load()  # TIFF and the rest: decode once, which fails on a truncated file
    except (UnidentifiedImageError, OSError, ModuleNotFoundError, ValueError, SyntaxError) as exc:
        # ModuleNotFoundError: once ultralytics is imported, it patches Image.open to retry an
        # unidentified file with the optional pi-heif plugin, which is not installed.
        raise InputError(expected("a readable image", f"{exc.__class__.__name__}: {exc}", str(path))) from None
    except Image.DecompressionBombError as exc:
        raise InputError(expected("an image of ordinary size", str(exc), str(path))) from None
    problem = _truncation(path, fmt)
    if problem:
        raise InputError(expected(f"a complete {fmt} file (remove or replace it)", problem, str(path)))
    return size


_TAIL_CHECKED = ("JPEG", "MPO", "PNG", "BMP", "WEBP")


def _truncation(path: Path, fmt: str | None) -> str | None:
    """Why the file is cut short, or None: checks only its end (and the size its header states)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 4096))
            tail = f.read()
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if fmt in ("JPEG", "MPO"):
        if not tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
            return f"a truncated JPEG (no end-of-image marker; {size} bytes)"
    elif fmt == "PNG":
        if b"IEND" not in tail[-64:]:
            return f"a truncated PNG (no IEND chunk; {size} bytes)"
    elif fmt == "BMP" and len(head) >= 6:
        stated = int.from_bytes(head[2:6], "little")
        if stated > size:
            return f"a truncated BMP ({size} of the {stated} bytes its header states)"
    elif fmt == "WEBP" and len(head) >= 8:
        stated = int.from_bytes(head[4:8], "little") + 8
        if stated > size:
            return f"a truncated WebP ({size} of the {stated} bytes its header states)"
    return None


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
