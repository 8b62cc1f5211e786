"""COCO ground truth and detections: one validator each, then frozen columnar containers.

Everything that reaches the evaluation engine went through :meth:`CocoGroundTruth.from_coco`,
:meth:`CocoGroundTruth.from_arrays`, :meth:`CocoDetections.from_coco` or
:meth:`CocoDetections.from_arrays`. Bad input raises :class:`~harness.errors.InputError`
with one line naming the source and the record (``preds.json record 12: expected ...``).

Rules follow pycocotools where it defines them:

* detections get ``area = w * h`` of their ``bbox`` when the first record has a ``bbox``
  (pycocotools' ``loadRes`` does this even for ``segm`` evaluation), else the mask area;
* ground-truth ``area`` comes from the file (default: box area for ``bbox``, mask area for
  ``segm``) and decides the small/medium/large ranges; ``iscrowd`` defaults to 0;
* a ground-truth ``ignore`` field is not used (pycocotools overwrites it with ``iscrowd``).

Stricter than pycocotools: an image id or category id a detection refers to must exist in
the ground truth (pycocotools asserts on the first and silently drops the second).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from harness.errors import InputError, expected
from harness.metrics.boxes import as_boxes, convert_boxes
from harness.metrics.segm import mask_areas, segmentation_kind

__all__ = ["CocoDetections", "CocoGroundTruth", "load_json", "lookup_rows"]


def load_json(path: str | os.PathLike) -> object:
    """Read a JSON file, turning every way it can be unreadable into one :class:`InputError`.

    Example:
        >>> load_json("/nonexistent.json")
        Traceback (most recent call last):
        harness.errors.InputError: /nonexistent.json: expected an existing JSON file, got nothing there
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        raise InputError(expected("a JSON file", "a folder", p))
    if not os.path.exists(p):
        raise InputError(expected("an existing JSON file", "nothing there", p))
    try:
        with open(p, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(expected("a readable UTF-8 JSON file", exc.__class__.__name__, p)) from exc
    if not text.strip():
        raise InputError(expected("JSON content", "an empty file", p))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(expected("valid JSON", exc.msg, f"{p} line {exc.lineno} column {exc.colno}")) from exc


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


def _is_number(v: object) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _where(source: str, i: int) -> str:
    return f"{source} record {i}"


def _column(records: list, key: str, source: str, what: str, *, default: object = None, required: bool = True) -> list:
    try:
        if required:
            return [r[key] for r in records]
        return [r.get(key, default) for r in records]
    except (KeyError, TypeError, AttributeError):
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise InputError(expected("a JSON object", type(r).__name__, _where(source, i))) from None
            if key not in r:
                raise InputError(expected(f"a '{key}' field ({what})", "none", _where(source, i))) from None
        raise


def _array(values: list, empty_dtype: type) -> np.ndarray | None:
    """``numpy.asarray(values)``, or None when the values do not form a regular array."""
    if not values:
        return np.zeros(0, empty_dtype)
    try:
        return np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        return None


def _numbers(values: list, source: str, key: str, *, ints: bool = False, finite: bool = True) -> np.ndarray:
    arr = _array(values, np.int64 if ints else np.float64)
    kinds = "iu" if ints else "iuf"
    if arr is not None and arr.ndim == 1 and arr.dtype.kind in kinds and (not finite or arr.dtype.kind != "f" or np.isfinite(arr).all()):
        return arr.astype(np.int64 if ints else np.float64)
    what = "an integer" if ints else "a finite number"
    for i, v in enumerate(values):
        ok = isinstance(v, int) and not isinstance(v, bool) if ints else _is_number(v) and math.isfinite(v)
        if not ok:
            raise InputError(expected(f"'{key}' to be {what}", repr(v), _where(source, i)))
    raise InputError(expected(f"'{key}' values of one kind", arr.dtype, source))


def _bboxes(values: list, source: str) -> np.ndarray:
    arr = _array(values, np.float64)
    if arr is not None and not values:
        return np.zeros((0, 4))
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64)
        if np.isfinite(arr).all() and (arr[:, 2:] >= 0).all():
            return arr
    for i, b in enumerate(values):
        where = _where(source, i)
        if not isinstance(b, (list, tuple)) or len(b) != 4 or not all(_is_number(v) for v in b):
            raise InputError(expected("'bbox' as [x, y, width, height] numbers", repr(b), where))
        if not all(math.isfinite(v) for v in b):
            raise InputError(expected("finite 'bbox' numbers", repr(b), where))
        if b[2] < 0 or b[3] < 0:
            raise InputError(expected("a 'bbox' with non-negative width and height", repr(b), where))
    raise InputError(expected("'bbox' as [x, y, width, height] numbers", "mixed values", source))


def _ids(values: list, source: str, key: str) -> np.ndarray:
    """Image ids: all integers (int64 array) or all strings (object array)."""
    arr = _array(values, np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr is not None and arr.ndim == 1 and arr.dtype.kind == "U":
        return np.asarray(values, dtype=object)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, str, np.integer)):
            raise InputError(expected(f"'{key}' to be an integer or a string", repr(v), _where(source, i)))
    raise InputError(expected(f"'{key}' values of one type", "both integers and strings", source))


def _segmentations(values: list, source: str) -> tuple:
    for i, s in enumerate(values):
        problem = segmentation_kind(s)
        if problem is not None and not problem.startswith("ok:"):
            raise InputError(expected("'segmentation' as polygons [[x, y, ...], ...] or an RLE {size, counts}", problem, _where(source, i)))
    return tuple(values)


@dataclass(frozen=True)
class CocoGroundTruth:
    """Validated, immutable COCO ground truth in columns (one row per annotation, file order).

    Attributes:
        image_ids: image ids, sorted (the evaluation order, as pycocotools).
        image_sizes: int64 ``(I, 2)`` (width, height) per image; 0 where unknown.
        category_ids: int64 ``(K,)`` sorted category ids.
        category_names: name per category.
        image_index: int64 ``(N,)`` row in ``image_ids`` of each annotation.
        category_index: int64 ``(N,)`` row in ``category_ids`` of each annotation.
        boxes: float64 ``(N, 4)`` xywh.
        areas: float64 ``(N,)`` area used for the small/medium/large ranges.
        iscrowd: bool ``(N,)`` crowd regions (ignored, can absorb many detections).
        segmentations: the segmentation of each annotation (polygons or RLE), or None.
        source: where it came from, for messages.
    """

    image_ids: tuple
    image_sizes: np.ndarray
    category_ids: np.ndarray
    category_names: tuple
    image_index: np.ndarray
    category_index: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    iscrowd: np.ndarray
    segmentations: tuple | None = field(default=None, repr=False)
    source: str = "ground truth"

    def __post_init__(self):
        _readonly(self.image_sizes, self.category_ids, self.image_index, self.category_index, self.boxes, self.areas, self.iscrowd)

    @property
    def n_images(self) -> int:
        return len(self.image_ids)

    @classmethod
    def from_coco(cls, data: object, *, iou_type: str = "bbox", source: str = "ground truth") -> CocoGroundTruth:
        """Validate a COCO ground-truth dict (as loaded from JSON).

        Args:
            data: ``{"images": [...], "annotations": [...], "categories": [...]}``.
            iou_type: ``"bbox"`` needs a ``bbox`` per annotation, ``"segm"`` a ``segmentation``.
            source: name for messages, usually the file path.

        Returns:
            The validated ground truth.

        Raises:
            InputError: the first problem found, naming the record.

        Example:
            >>> gt = CocoGroundTruth.from_coco({"images": [{"id": 1}], "categories": [{"id": 3}],
            ...     "annotations": [{"image_id": 1, "category_id": 3, "bbox": [0, 0, 4, 5]}]})
            >>> gt.areas.tolist(), gt.category_ids.tolist()
            ([20.0], [3])
        """
        if not isinstance(data, dict):
            raise InputError(expected("a COCO ground-truth object {images, annotations, categories}", type(data).__name__, source))
        for key in ("images", "categories"):
            if not isinstance(data.get(key), list):
                raise InputError(expected(f"a '{key}' list", type(data.get(key)).__name__ if key in data else "none", source))
        anns = data.get("annotations", [])
        if not isinstance(anns, list):
            raise InputError(expected("an 'annotations' list", type(anns).__name__, source))
        images, cats = data["images"], data["categories"]
        img_ids = _ids(_column(images, "id", f"{source} images", "the image id"), f"{source} images", "id").tolist()
        if len(set(img_ids)) != len(img_ids):
            raise InputError(expected("unique image ids", "a repeated id", f"{source} images"))
        widths = _numbers(_column(images, "width", f"{source} images", "", default=0, required=False), f"{source} images", "width")
        heights = _numbers(_column(images, "height", f"{source} images", "", default=0, required=False), f"{source} images", "height")
        cat_ids = _numbers(_column(cats, "id", f"{source} categories", "the category id"), f"{source} categories", "id", ints=True)
        if len(np.unique(cat_ids)) != len(cat_ids):
            raise InputError(expected("unique category ids", "a repeated id", f"{source} categories"))
        names = [str(c.get("name", c["id"])) for c in cats]
        order = sorted(range(len(img_ids)), key=img_ids.__getitem__)
        image_ids = tuple(img_ids[i] for i in order)
        sizes = np.stack([widths, heights], axis=1).reshape(-1, 2)[order].astype(np.int64)
        corder = np.argsort(cat_ids, kind="stable")
        where = f"{source} annotations"
        img_idx = lookup_rows(_column(anns, "image_id", where, "the image id"), image_ids, where, "image_id", "images")
        cat_idx = lookup_rows(_column(anns, "category_id", where, "the category id"), tuple(cat_ids[corder].tolist()), where, "category_id", "categories")
        segms = None
        if iou_type == "segm":
            segms = _segmentations(_column(anns, "segmentation", where, "polygons or an RLE"), where)
        raw_boxes = _column(anns, "bbox", where, "[x, y, width, height]", required=iou_type == "bbox", default=[0, 0, 0, 0])
        boxes = _bboxes(raw_boxes, where)
        crowd = _numbers(_column(anns, "iscrowd", where, "", default=0, required=False), where, "iscrowd", ints=True)
        raw_area = _column(anns, "area", where, "", default=None, required=False)
        if any(a is None for a in raw_area):
            if iou_type == "segm":
                fallback = mask_areas(segms, [sizes[i] for i in img_idx], where)
            else:
                fallback = boxes[:, 2] * boxes[:, 3]
            raw_area = [fallback[i] if a is None else a for i, a in enumerate(raw_area)]
        areas = _numbers(raw_area, where, "area")
        return cls(
            image_ids=image_ids,
            image_sizes=sizes,
            category_ids=cat_ids[corder],
            category_names=tuple(names[i] for i in corder),
            image_index=img_idx,
            category_index=cat_idx,
            boxes=boxes,
            areas=areas,
            iscrowd=crowd != 0,
            segmentations=segms,
            source=source,
        )

    @classmethod
    def from_arrays(
        cls,
        boxes: list,
        classes: list,
        *,
        image_sizes: list | None = None,
        image_ids: list | None = None,
        category_ids: list | None = None,
        category_names: list | None = None,
        iscrowd: list | None = None,
        areas: list | None = None,
        box_format: str = "xyxy",
        source: str = "ground truth",
    ) -> CocoGroundTruth:
        """Build ground truth from per-image arrays (what the run scorer has).

        Args:
            boxes: per image, an ``(n_i, 4)`` array of pixel boxes in ``box_format``.
            classes: per image, ``(n_i,)`` integer class ids.
            image_sizes: per image ``(width, height)``; needed only for ``box_format="yolo"``.
            image_ids: per image id (int or str); default ``0 .. len(boxes) - 1``.
            category_ids: every category id (for the per-class table); default: the classes seen.
            category_names: names in the order of ``category_ids``.
            iscrowd: per image, ``(n_i,)`` bools; default all False.
            areas: per image, ``(n_i,)`` areas; default the box areas.
            box_format: ``xyxy`` (default), ``xywh``, ``cxcywh`` or ``yolo``.
            source: name for messages.

        Returns:
            The validated ground truth.

        Example:
            >>> gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 20.0]]), np.zeros((0, 4))],
            ...                                  [np.array([2]), np.array([], int)])
            >>> gt.image_ids, gt.boxes.tolist(), gt.areas.tolist()
            ((0, 1), [[0.0, 0.0, 10.0, 20.0]], [200.0])
        """
        n = len(boxes)
        image_ids = list(range(n)) if image_ids is None else _ids(list(image_ids), source, "image_ids").tolist()
        if len(set(image_ids)) != n:
            raise InputError(expected(f"{n} unique image ids", "a repeated id", f"{source} image_ids"))
        sizes = np.zeros((n, 2), np.int64) if image_sizes is None else np.asarray(image_sizes, np.float64).reshape(n, 2).astype(np.int64)
        cols = _per_image(boxes, classes, source, box_format, sizes)
        bx, cls_all, img_idx = cols
        crowd = _flat_optional(iscrowd, img_idx, n, bool, source, "iscrowd")
        area = _flat_optional(areas, img_idx, n, np.float64, source, "areas")
        if area is None:
            area = bx[:, 2] * bx[:, 3]
        elif not (np.isfinite(area).all() and (area >= 0).all()):
            raise InputError(expected("finite non-negative areas", "a negative or NaN area", source))
        cats = np.unique(cls_all) if category_ids is None else np.asarray(category_ids, np.int64)
        if len(np.unique(cats)) != len(cats):
            raise InputError(expected("unique category ids", cats.tolist(), f"{source} category_ids"))
        corder = np.argsort(cats, kind="stable")
        names = [str(c) for c in cats] if category_names is None else [str(s) for s in category_names]
        cat_idx = lookup_rows(cls_all.tolist(), tuple(cats[corder].tolist()), f"{source} classes", "class", "category_ids")
        order = sorted(range(n), key=image_ids.__getitem__)
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n)
        return cls(
            image_ids=tuple(image_ids[i] for i in order),
            image_sizes=sizes[order],
            category_ids=cats[corder],
            category_names=tuple(names[i] for i in corder),
            image_index=rank[img_idx],
            category_index=cat_idx,
            boxes=bx,
            areas=area,
            iscrowd=np.zeros(len(bx), bool) if crowd is None else crowd,
            source=source,
        )


@dataclass(frozen=True)
class CocoDetections:
    """Validated, immutable detections in columns (one row per detection, input order).

    Attributes:
        image_ids: int64 or object ``(N,)`` image id of each detection.
        category_ids: int64 ``(N,)`` category id of each detection.
        boxes: float64 ``(N, 4)`` xywh.
        scores: float64 ``(N,)`` confidences.
        areas: float64 ``(N,)`` areas for the small/medium/large ranges.
        segmentations: per detection polygons or RLE (``segm`` only), or None.
        source: where they came from, for messages.
    """

    image_ids: np.ndarray
    category_ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    areas: np.ndarray
    segmentations: tuple | None = field(default=None, repr=False)
    source: str = "detections"

    def __post_init__(self):
        _readonly(self.image_ids, self.category_ids, self.boxes, self.scores, self.areas)

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def from_coco(cls, records: object, *, iou_type: str = "bbox", source: str = "detections") -> CocoDetections:
        """Validate a COCO results list ``[{image_id, category_id, bbox|segmentation, score}, ...]``.

        Example:
            >>> dt = CocoDetections.from_coco([{"image_id": 1, "category_id": 3, "bbox": [0, 0, 2, 2], "score": 0.5}])
            >>> dt.areas.tolist()
            [4.0]
        """
        if not isinstance(records, list):
            raise InputError(expected("a JSON list of detections", type(records).__name__, source))
        image_ids = _ids(_column(records, "image_id", source, "the image id"), source, "image_id")
        cat_ids = _numbers(_column(records, "category_id", source, "the category id"), source, "category_id", ints=True)
        scores = _numbers(_column(records, "score", source, "the confidence"), source, "score")
        has_bbox = bool(records) and isinstance(records[0], dict) and bool(records[0].get("bbox"))
        segms = None
        if iou_type == "segm":
            segms = _segmentations(_column(records, "segmentation", source, "polygons or an RLE"), source)
        if iou_type == "bbox" or has_bbox:
            boxes = _bboxes(_column(records, "bbox", source, "[x, y, width, height]"), source)
            areas = boxes[:, 2] * boxes[:, 3]
        else:
            areas = np.asarray(mask_areas(segms, None, source), np.float64)
            boxes = np.zeros((len(records), 4))
        return cls(image_ids, cat_ids, boxes, scores, areas, segms, source)

    @classmethod
    def from_arrays(
        cls,
        boxes: list,
        scores: list,
        classes: list,
        *,
        image_ids: list | None = None,
        image_sizes: list | None = None,
        box_format: str = "xyxy",
        source: str = "detections",
    ) -> CocoDetections:
        """Build detections from per-image arrays, aligned with the ground truth's images.

        Args:
            boxes: per image, ``(n_i, 4)`` pixel boxes in ``box_format``.
            scores: per image, ``(n_i,)`` confidences.
            classes: per image, ``(n_i,)`` integer class ids.
            image_ids: per image id; default ``0 .. len(boxes) - 1`` (as the ground truth's default).
            image_sizes: per image ``(width, height)``; needed only for ``box_format="yolo"``.
            box_format: ``xyxy`` (default), ``xywh``, ``cxcywh`` or ``yolo``.
            source: name for messages.

        Example:
            >>> dt = CocoDetections.from_arrays([np.array([[0, 0, 10, 20.0]])], [np.array([0.9])], [np.array([2])])
            >>> dt.boxes.tolist(), dt.image_ids.tolist()
            ([[0.0, 0.0, 10.0, 20.0]], [0])
        """
        n = len(boxes)
        ids = list(range(n)) if image_ids is None else _ids(list(image_ids), source, "image_ids").tolist()
        sizes = np.zeros((n, 2), np.int64) if image_sizes is None else np.asarray(image_sizes, np.float64).reshape(n, 2)
        bx, cls_all, img_idx = _per_image(boxes, classes, source, box_format, sizes)
        sc = _flat_optional(scores, img_idx, n, np.float64, source, "scores")
        if sc is None or not np.isfinite(sc).all():
            raise InputError(expected("a finite score per detection", "a missing or NaN score", source))
        id_arr = np.asarray(ids, dtype=object if ids and isinstance(ids[0], str) else np.int64)
        return cls(id_arr[img_idx] if n else np.zeros(0, np.int64), cls_all, bx, sc, bx[:, 2] * bx[:, 3], None, source)


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
        arr = np.asarray(values)
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
            raise InputError(expected(f"a {key} listed in the ground truth's {listed_in}", repr(got), _where(where, i)))
    pos = {v: i for i, v in enumerate(table)}
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        j = pos.get(v) if isinstance(v, (int, str)) and not isinstance(v, bool) else None
        if j is None:
            raise InputError(expected(f"a {key} listed in the ground truth's {listed_in}", repr(v), _where(where, i)))
        out[i] = j
    return out


def _per_image(boxes: list, classes: list, source: str, box_format: str, sizes: np.ndarray) -> tuple:
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


def _flat_optional(per_image: list | None, img_idx: np.ndarray, n: int, dtype: type, source: str, name: str) -> np.ndarray | None:
    if per_image is None:
        return None
    if len(per_image) != n:
        raise InputError(expected(f"{n} arrays (one per image)", len(per_image), f"{source} {name}"))
    parts = [np.asarray(v, dtype).reshape(-1) for v in per_image]
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype)
    if len(flat) != len(img_idx):
        raise InputError(expected(f"one {name} value per box ({len(img_idx)})", len(flat), f"{source} {name}"))
    return flat
