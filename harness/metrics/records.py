"""Field validators for lists of JSON records and per-image arrays (used by :mod:`coco_io`).

Each validator has a fast path (one ``numpy`` conversion of the whole column) and, when that
fails, a slow path that walks the records to name the first bad one in the message.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from common.errors import InputError, expected
from harness.metrics.boxes import as_boxes, convert_boxes
from harness.metrics.segm import segmentation_kind

__all__ = [
    "array_or_none", "bboxes", "column", "flat_optional", "id_column", "lookup_rows", "numbers", "per_image",
    "readonly", "record_where", "segmentations",
]


def readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


def _is_number(v: object) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _finite(v: object) -> bool:
    """``math.isfinite`` that says False for an integer too large for a float (no OverflowError)."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def record_where(source: str, i: int) -> str:
    return f"{source} record {i}"


def column(records: list, key: str, source: str, what: str, *, default: object = None, required: bool = True) -> list:
    try:
        if required:
            return [r[key] for r in records]
        return [r.get(key, default) for r in records]
    except (KeyError, TypeError, AttributeError):
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise InputError(expected("a JSON object", type(r).__name__, record_where(source, i))) from None
            if key not in r:
                raise InputError(expected(f"a '{key}' field ({what})", "none", record_where(source, i))) from None
        raise


def array_or_none(values: list, empty_dtype: type) -> np.ndarray | None:
    """``numpy.asarray(values)``, or None when the values do not form a regular array."""
    if not values:
        return np.zeros(0, empty_dtype)
    try:
        return np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        return None


def numbers(values: list, source: str, key: str, *, ints: bool = False, finite: bool = True) -> np.ndarray:
    arr = array_or_none(values, np.int64 if ints else np.float64)
    kinds = "iu" if ints else "iuf"
    if arr is not None and arr.ndim == 1 and arr.dtype.kind in kinds and (not finite or arr.dtype.kind != "f" or np.isfinite(arr).all()):
        return arr.astype(np.int64 if ints else np.float64)
    what = "an integer" if ints else "a finite number"
    for i, v in enumerate(values):
        ok = isinstance(v, int) and not isinstance(v, bool) if ints else _is_number(v) and _finite(v)
        if not ok:
            raise InputError(expected(f"'{key}' to be {what}", repr(v), record_where(source, i)))
    raise InputError(expected(f"'{key}' values of one kind", arr.dtype, source))


def bboxes(values: list, source: str) -> np.ndarray:
    arr = array_or_none(values, np.float64)
    if arr is not None and not values:
        return np.zeros((0, 4))
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64)
        if np.isfinite(arr).all() and (arr[:, 2:] >= 0).all():
            return arr
    for i, b in enumerate(values):
        where = record_where(source, i)
        if not isinstance(b, (list, tuple)) or len(b) != 4 or not all(_is_number(v) for v in b):
            raise InputError(expected("'bbox' as [x, y, width, height] numbers", repr(b), where))
        if not all(_finite(v) for v in b):
            raise InputError(expected("finite 'bbox' numbers", repr(b), where))
        if b[2] < 0 or b[3] < 0:
            raise InputError(expected("a 'bbox' with non-negative width and height", repr(b), where))
    raise InputError(expected("'bbox' as [x, y, width, height] numbers", "mixed values", source))


def id_column(values: list, source: str, key: str) -> np.ndarray:
    """Image ids: all integers (int64 array) or all strings (object array)."""
    arr = array_or_none(values, np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind == "U" and all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=object)  # (numpy makes ["", 2] strings too: checked above)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, str, np.integer)):
            raise InputError(expected(f"'{key}' to be an integer or a string", repr(v), record_where(source, i)))
    raise InputError(expected(f"'{key}' values of one type", "both integers and strings", source))


def segmentations(values: list, source: str) -> tuple:
    for i, s in enumerate(values):
        problem = segmentation_kind(s)
        if problem is not None and not problem.startswith("ok:"):
            raise InputError(expected("'segmentation' as polygons [[x, y, ...], ...] or an RLE {size, counts}", problem, record_where(source, i)))
    return tuple(values)


def lookup_rows(values: list | np.ndarray, table: tuple, where: str, key: str, listed_in: str) -> np.ndarray:
    """Row of each value in the sorted ``table``; an unknown value is bad input.

    Example:
        >>> lookup_rows([7, 3], (3, 7), "preds.json", "image_id", "images").tolist()
        [1, 0]
    """
    if len(values) == 0:
        return np.zeros(0, np.int64)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu" and all(type(v) is int for v in table):
        arr = values
    elif isinstance(values, np.ndarray):
        values = values.tolist()
        arr = None
    else:
        arr = None
    if arr is None and all(type(v) is int for v in table) and type(values[0]) is int:
        arr = array_or_none(values, np.int64)  # None for mixed or oversized values: the slow path names them
        if arr is not None and arr.ndim != 1:
            arr = None
    if arr is not None:
        if arr.dtype.kind in "iu":
            tab = np.asarray(table, np.int64)
            idx = np.searchsorted(tab, arr)
            idx_c = np.minimum(idx, max(len(tab) - 1, 0))
            bad = (idx >= len(tab)) | (tab[idx_c] != arr) if len(tab) else np.ones(len(arr), bool)
            if not bad.any():
                return idx.astype(np.int64)
            i = int(np.flatnonzero(bad)[0])
            got = arr[i].item()
            raise InputError(expected(f"{'an' if key[0] in 'aeiou' else 'a'} {key} listed in the ground truth's {listed_in}", repr(got), record_where(where, i)))
    pos = {v: i for i, v in enumerate(table)}
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        j = pos.get(v) if isinstance(v, (int, str)) and not isinstance(v, bool) else None
        if j is None:
            raise InputError(expected(f"{'an' if key[0] in 'aeiou' else 'a'} {key} listed in the ground truth's {listed_in}", repr(v), record_where(where, i)))
        out[i] = j
    return out


def per_image(boxes: list, classes: list, source: str, box_format: str, sizes: np.ndarray) -> tuple:
    n = len(boxes)
    if len(classes) != n:
        raise InputError(expected(f"{n} class arrays (one per image)", len(classes), f"{source} classes"))
    parts, cls_parts, counts = [], [], []
    for i in range(n):
        b = as_boxes(boxes[i], name=f"{source} image {i} boxes")
        c = np.asarray(classes[i]).reshape(-1)
        if len(c) != len(b) or (c.size and c.dtype.kind not in "iu"):
            raise InputError(expected(f"{len(b)} integer classes", f"{len(c)} of dtype {c.dtype}", f"{source} image {i} classes"))
        if box_format != "xywh":
            b = convert_boxes(b, box_format, "xywh", image_size=tuple(sizes[i]) if box_format == "yolo" else None)
        if not np.isfinite(b).all() or (b[:, 2:] < 0).any():
            row = int(np.flatnonzero(~np.isfinite(b).all(1) | (b[:, 2:] < 0).any(1))[0])
            raise InputError(expected("finite boxes with non-negative width and height", b[row].tolist(), f"{source} image {i} box {row}"))
        parts.append(b)
        cls_parts.append(c.astype(np.int64))
        counts.append(len(b))
    bx = np.concatenate(parts) if parts else np.zeros((0, 4))
    cl = np.concatenate(cls_parts) if cls_parts else np.zeros(0, np.int64)
    return bx, cl, np.repeat(np.arange(n), counts)


def flat_optional(per_image: list | None, img_idx: np.ndarray, n: int, dtype: type, source: str, name: str) -> np.ndarray | None:
    if per_image is None:
        return None
    if len(per_image) != n:
        raise InputError(expected(f"{n} arrays (one per image)", len(per_image), f"{source} {name}"))
    parts = [np.asarray(v, dtype).reshape(-1) for v in per_image]
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype)
    if len(flat) != len(img_idx):
        raise InputError(expected(f"one {name} value per box ({len(img_idx)})", len(flat), f"{source} {name}"))
    return flat
