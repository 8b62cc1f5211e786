"""Ultralytics-layout datasets: ``data.yaml`` plus YOLO txt label files, validated once.

A label line is ``class cx cy w h`` (normalized to [0, 1]); prediction files add a confidence
column (``class cx cy w h conf``). Every problem is reported as one line naming the file and line.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.data.dataset import Dataset, ImageItem, image_size, list_images
from common.errors import InputError, expected

# Coordinates a hair outside [0, 1] come from float rounding in converters; beyond this they are errors.
COORD_TOLERANCE = 1e-3


@dataclass(frozen=True, slots=True)
class LabelFile:
    """The validated content of one YOLO label (or prediction) file.

    Attributes:
        classes: int64 (N,) class indices.
        boxes: float64 (N, 4) normalized cx, cy, w, h.
        confidence: float64 (N,) for prediction files, else None.
    """

    classes: np.ndarray
    boxes: np.ndarray
    confidence: np.ndarray | None

    def __len__(self) -> int:
        return len(self.classes)

    def xyxy(self, width: int, height: int) -> np.ndarray:
        """Boxes as xyxy pixels for an image of the given size, clipped to the image."""
        cx, cy, w, h = self.boxes.T
        xyxy = np.stack([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height], 1)
        return np.clip(xyxy, 0.0, np.array([width, height, width, height], dtype=np.float64))


def read_label_file(path: Path, *, n_classes: int | None = None, with_confidence: bool = False) -> LabelFile:
    """Read and validate one YOLO label file.

    Args:
        path: the ``.txt`` file. A missing file is an image with no objects (Ultralytics' rule).
        n_classes: if given, class indices must be in ``0..n_classes-1``.
        with_confidence: expect a sixth column (prediction files).

    Returns:
        The validated :class:`LabelFile`.

    Raises:
        InputError: a malformed line, a class out of range, coordinates outside [0, 1], a negative
            width/height (or a zero one in a label file: a prediction may have zero area), or a
            confidence outside [0, 1]; the message names file and line.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("0 0.5 0.5 0.2 0.1\\n")
        >>> read_label_file(p, n_classes=1).boxes.tolist()
        [[0.5, 0.5, 0.2, 0.1]]
    """
    if path.is_dir():
        raise InputError(expected("a label file", "a folder", str(path)))
    if not path.exists():
        return LabelFile(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0) if with_confidence else None)
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise InputError(expected("a text label file", f"undecodable bytes ({exc.reason})", str(path))) from exc
    ncol = 6 if with_confidence else 5
    form = "'class cx cy w h conf'" if with_confidence else "'class cx cy w h'"
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path} line {lineno}"
        if len(fields) != ncol:
            raise InputError(expected(f"{ncol} numbers {form}", f"{len(fields)} fields {line.strip()!r}", where))
        try:
            cls = int(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise InputError(expected(f"numbers {form} with an integer class", repr(line.strip()), where)) from None
        if cls < 0 or (n_classes is not None and cls >= n_classes):
            rng = f"0..{n_classes - 1}" if n_classes is not None else ">= 0"
            raise InputError(expected(f"a class index in {rng}", cls, where))
        if not all(math.isfinite(v) for v in values):
            raise InputError(expected("finite numbers", repr(line.strip()), where))
        cx, cy, w, h = values[:4]
        if w < 0 or h < 0 or (not with_confidence and (w == 0 or h == 0)):
            # a zero-area PREDICTED box (clipped at the image edge) is a legal detection that matches
            # nothing, as in pycocotools; zero-area ground truth cannot be matched and is refused
            what = "a box with non-negative width and height" if with_confidence else "a box with positive width and height"
            raise InputError(expected(what, f"w={w:g} h={h:g}", where))
        lo, hi = -COORD_TOLERANCE, 1 + COORD_TOLERANCE
        if not (lo <= cx - w / 2 and cx + w / 2 <= hi and lo <= cy - h / 2 and cy + h / 2 <= hi):
            raise InputError(expected("normalized coordinates with the box inside [0, 1]", f"cx={cx:g} cy={cy:g} w={w:g} h={h:g}", where))
        if with_confidence and not 0 <= values[4] <= 1:
            raise InputError(expected("a confidence in [0, 1]", f"{values[4]:g}", where))
        rows.append((cls, *values))
    if not rows:
        return LabelFile(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0) if with_confidence else None)
    arr = np.array(rows, dtype=np.float64)
    return LabelFile(arr[:, 0].astype(np.int64), np.clip(arr[:, 1:5], 0.0, 1.0),
                     arr[:, 5].copy() if with_confidence else None)


def read_data_yaml(path: Path) -> dict:
    """Read and validate an Ultralytics ``data.yaml``: ``names`` plus ``train``/``val`` paths.

    Returns:
        ``{"root": Path, "names": tuple[str, ...], "train": Path|None, "val": Path|None, "test": Path|None}``
        with split paths resolved the way Ultralytics does (``path:`` key, else the yaml's folder).

    Raises:
        InputError: not a file, not YAML, or no usable ``names``.
    """
    import yaml

    if not path.is_file():
        raise InputError(expected("a data.yaml file", "a folder" if path.is_dir() else "no such file", str(path)))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(expected("a UTF-8 text data.yaml", f"undecodable bytes ({exc.reason})", str(path))) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path} line {mark.line + 1}" if mark is not None else str(path)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line
        raise InputError(expected("valid YAML", problem, where)) from None
    except RecursionError:
        raise InputError(expected("YAML nested a few levels deep", "nesting too deep to read", str(path))) from None
    if not isinstance(data, dict):
        raise InputError(expected("a YAML mapping with 'names' and 'val'", type(data).__name__, str(path)))
    names = data.get("names")
    if isinstance(names, dict):
        keys = sorted(names)
        if keys != list(range(len(keys))):
            raise InputError(expected("'names' keys 0..N-1", keys, f"{path} names"))
        names = [names[k] for k in keys]
    if not isinstance(names, list) or not names or not all(isinstance(n, (str, int)) for n in names):
        raise InputError(expected("'names' as a non-empty list or {index: name} mapping", repr(data.get("names")), f"{path} names"))
    # Ultralytics' rule: no 'path:' key means the yaml's own folder; a relative 'path:' is taken
    # from the yaml's folder too (never from the working directory, never joined twice)
    folder = path.parent.resolve()
    if data.get("path") is not None and not isinstance(data["path"], str):
        raise InputError(expected("'path' as one folder path", repr(data["path"]), f"{path} path"))
    for key in ("path", "train", "val", "test"):
        value = data.get(key)
        if isinstance(value, str) and not _usable_path(value):
            raise InputError(expected(f"'{key}' as a path (no NUL, encodable)", repr(value), f"{path} {key}"))
    root = Path(data["path"]) if data.get("path") else folder
    if not root.is_absolute():
        root = (folder / root).resolve()
    splits = {}
    for split in ("train", "val", "test"):
        value = data.get(split)
        if value is None:
            splits[split] = None
        elif isinstance(value, str):
            p = Path(value)
            splits[split] = p if p.is_absolute() else root / p
        else:
            raise InputError(expected(f"'{split}' as one path (lists are not supported)", repr(value), f"{path} {split}"))
    return {"root": root, "names": tuple(str(n) for n in names), **splits}


def _usable_path(text: str) -> bool:
    """False for what the OS cannot take as a path: a NUL, or a lone surrogate (a YAML ``\\ud800``)."""
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _labels_dir_for(images_dir: Path) -> Path:
    """Ultralytics' rule: the last ``images`` path component becomes ``labels``."""
    parts = list(images_dir.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    return images_dir


def load_yolo_dataset(data_yaml: Path, *, split: str = "val", limit: int | None = None) -> Dataset:
    """Load one split of an Ultralytics dataset with validated labels.

    Args:
        data_yaml: the dataset's ``data.yaml``.
        split: ``train``, ``val`` or ``test``.
        limit: keep only the first ``limit`` images (sorted by name); the Dataset records it.

    Returns:
        A :class:`Dataset` with xyxy pixel boxes.

    Raises:
        InputError: the yaml, the split folder or any label file is invalid.
    """
    info = read_data_yaml(data_yaml)
    images_dir = info.get(split)
    if images_dir is None:
        raise InputError(expected(f"a '{split}' entry", "none", str(data_yaml)))
    if not images_dir.is_dir():
        raise InputError(expected(f"the {split} images folder", "no such folder", str(images_dir)))
    images = list_images(images_dir)
    if not images:
        raise InputError(expected("at least one image", "none", str(images_dir)))
    total = len(images)
    if limit is not None:
        images = images[:limit]
    labels_dir = _labels_dir_for(images_dir)
    n_classes = len(info["names"])
    items = []
    for img in images:
        width, height = image_size(img)
        rel = img.relative_to(images_dir).with_suffix(".txt")
        labels = read_label_file(labels_dir / rel, n_classes=n_classes)
        items.append(ImageItem(path=img, width=width, height=height, boxes=labels.xyxy(width, height),
                               classes=labels.classes))
    return Dataset(names=info["names"], items=tuple(items), source=str(data_yaml), split=split,
                   with_ground_truth=True, dropped=total - len(items),
                   dropped_reason=f"--limit {limit}" if limit is not None and total > limit else None)
