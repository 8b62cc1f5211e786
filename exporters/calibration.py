"""INT8 calibration images: chosen from the dataset's TRAIN split, fed through the inference letterbox.

The images a model is scored on (the val split) are never used for calibration. The selection
is deterministic (evenly spaced over the sorted train list), so the same dataset gives the same
calibration set and the same cache key.

Example:
    >>> calib = select_calibration_images(Path("data/synth/data.yaml"), count=200)  # doctest: +SKIP
    >>> reader = ImageCalibrationReader(calib.files, imgsz=320)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError, expected

__all__ = ["IMAGE_SUFFIXES", "CalibrationSet", "ImageCalibrationReader", "batched_reader", "files_digest", "select_calibration_images", "train_images"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class CalibrationSet:
    """The images chosen for calibration and where they came from.

    Attributes:
        data_yaml: the dataset description.
        split: always ``"train"``.
        root: the dataset root the names are relative to.
        files: the chosen images (absolute paths).
        available: how many train images there were to choose from.
    """

    data_yaml: Path
    split: str
    root: Path
    files: tuple[Path, ...]
    available: int

    @property
    def relative_names(self) -> list[str]:
        """The chosen images relative to :attr:`root` (as recorded in manifests)."""
        out = []
        for f in self.files:
            try:
                out.append(f.relative_to(self.root).as_posix())
            except ValueError:
                out.append(f.as_posix())
        return out

    @property
    def digest(self) -> str:
        """SHA-256 over the chosen names and contents: changes when the selection or any image changes."""
        return files_digest(self.relative_names, self.files)

    def provenance(self) -> dict:
        """JSON-ready record for the manifest."""
        return {
            "data_yaml": str(self.data_yaml),
            "split": self.split,
            "root": str(self.root),
            "image_count": len(self.files),
            "available": self.available,
            "selection": "evenly spaced over the sorted train list",
            "images_sha256": self.digest,
            "images": self.relative_names,
        }


def files_digest(names: Sequence[str], files: Sequence[Path]) -> str:
    """SHA-256 over (name, content) of each file, in order."""
    digest = hashlib.sha256()
    for name, path in zip(names, files):
        digest.update(f"{name}\0".encode())
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def _load_yaml(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise InputError(expected("an existing dataset YAML", "no such file", str(path)))
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(expected("a readable dataset YAML", type(exc).__name__, str(path))) from None
    if not isinstance(data, dict):
        raise InputError(expected("a YAML mapping with 'train'", type(data).__name__, str(path)))
    return data


def _root(path: Path, data: dict) -> Path:
    root = data.get("path")
    if root is None:
        return path.parent.resolve()
    root = Path(str(root)).expanduser()
    return (root if root.is_absolute() else (path.parent / root)).resolve()


def _images_in(entry: Path, where: str) -> list[Path]:
    if entry.is_dir():
        return sorted(p for p in entry.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if entry.is_file() and entry.suffix.lower() == ".txt":
        base = entry.parent
        out = []
        for line in entry.read_text().splitlines():
            line = line.strip()
            if line:
                p = Path(line)
                out.append(p if p.is_absolute() else (base / p).resolve())
        return out
    if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
        return [entry]
    raise InputError(expected("a directory of images, a .txt list or an image", f"{entry} (missing)", where))


def train_images(data_yaml: Path) -> tuple[Path, list[Path]]:
    """All images of the train split of an Ultralytics dataset YAML.

    Args:
        data_yaml: a YAML with ``train`` (a directory, a ``.txt`` list or a list of those) and an optional ``path``.

    Returns:
        ``(root, images)`` with images sorted.

    Raises:
        InputError: missing file or ``train`` key, or no images found.
    """
    data_yaml = Path(data_yaml)
    data = _load_yaml(data_yaml)
    train = data.get("train")
    if not train:
        raise InputError(expected("a 'train' entry", "none", str(data_yaml)))
    root = _root(data_yaml, data)
    entries = train if isinstance(train, list) else [train]
    images: list[Path] = []
    for entry in entries:
        p = Path(str(entry)).expanduser()
        images.extend(_images_in(p if p.is_absolute() else root / p, f"{data_yaml} train"))
    images = sorted(set(images))
    if not images:
        raise InputError(expected("at least one train image", "none", f"{data_yaml} train"))
    return root, images


def select_calibration_images(data_yaml: Path, *, count: int) -> CalibrationSet:
    """Choose ``count`` train images (all of them if there are fewer), evenly spaced.

    Raises:
        InputError: bad dataset, or ``count`` < 1.
    """
    if count < 1:
        raise InputError(expected("a calibration image count >= 1", count, "calib_images"))
    root, images = train_images(data_yaml)
    if count >= len(images):
        chosen = images
    else:
        step = len(images) / count
        chosen = [images[int(i * step)] for i in range(count)]
    return CalibrationSet(Path(data_yaml).resolve(), "train", root, tuple(chosen), len(images))


class ImageCalibrationReader:
    """Calibration reader over image files, using the inference letterbox.

    Satisfies ONNX Runtime's ``CalibrationDataReader`` protocol (``get_next``; the ABC accepts any
    class with it) and is iterable, so the TensorRT calibrator reuses it.

    Args:
        files: the images.
        imgsz: network input side.
        input_name: the graph input.
        progress: optional ``callable(stage, done, total)``.
        batch: images per item, stacked ``batch x 3 x S x S`` (a model exported with that static batch);
            the last item is completed with the first images again, so every image is seen and every item
            has the model's shape. Ranges (:meth:`set_range`) and ``len`` count items.

    Example:
        >>> reader = ImageCalibrationReader(["a.jpg"] * 5, imgsz=64, batch=2)
        >>> len(reader), reader.batch
        (3, 2)
    """

    def __init__(
        self,
        files: Sequence[Path],
        *,
        imgsz: int,
        input_name: str = "images",
        progress: Callable[[str, int, int | None], None] | None = None,
        batch: int = 1,
    ):
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise InputError(expected("a calibration batch of at least 1", batch, "batch"))
        self.files = list(files)
        self.imgsz = imgsz
        self.input_name = input_name
        self.progress = progress
        self.batch = batch
        self._items = -(-len(self.files) // batch)
        self._index = 0
        self._stop = self._items
        self._done = 0

    def batched(self, batch: int) -> ImageCalibrationReader:
        """A reader over the same images (same input name and progress) yielding ``batch`` images per item."""
        return ImageCalibrationReader(self.files, imgsz=self.imgsz, input_name=self.input_name, progress=self.progress,
                                      batch=batch)

    def get_next(self) -> dict | None:
        """The next item as ``{input_name: Bx3xSxS float32}`` (B = :attr:`batch`), or ``None`` at the end."""
        if self._index >= self._stop:
            return None
        if self.batch == 1:
            tensor = load_tensor(self.files[self._index], self.imgsz)
        else:
            import numpy as np

            first = self._index * self.batch
            picks = [self.files[(first + i) % len(self.files)] for i in range(self.batch)]
            tensor = np.concatenate([load_tensor(f, self.imgsz) for f in picks], axis=0)
        self._index += 1
        self._done += 1
        if self.progress is not None:
            self.progress("calibrate", min(self._done * self.batch, len(self.files)), len(self.files))
        return {self.input_name: tensor}

    def set_range(self, start_index: int, end_index: int) -> None:
        """Restrict the next pass to items ``start_index:end_index`` (ONNX Runtime's chunked calibration)."""
        self._index = max(0, start_index)
        self._stop = min(self._items, end_index)

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        item = self.get_next()
        if item is None:
            raise StopIteration
        return item

    def __len__(self) -> int:
        return self._items

    def rewind(self) -> None:
        """Start again from the first image."""
        self._index, self._stop, self._done = 0, self._items, 0


def batched_reader(reader, batch: int):
    """``reader`` yielding ``batch`` images per item: the model to calibrate has that static batch.

    A reader without :meth:`ImageCalibrationReader.batched` (a test's stand-in) is returned as it is.
    """
    if batch == getattr(reader, "batch", 1) or not hasattr(reader, "batched"):
        return reader
    return reader.batched(batch)


def load_tensor(path: Path, imgsz: int):
    """Read one image and preprocess it exactly as inference does."""
    import cv2

    from harness.pipeline.preprocess import preprocess

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(expected("a readable image", "an unreadable or missing file", str(path)))
    tensor, _ = preprocess(image, imgsz)
    return tensor
