"""COCO ground truth and detections: one validator each, then frozen columnar containers.

Everything that reaches the evaluation engine went through :meth:`CocoGroundTruth.from_coco`,
:meth:`CocoGroundTruth.from_arrays`, :meth:`CocoDetections.from_coco` or
:meth:`CocoDetections.from_arrays`. Bad input raises :class:`~common.errors.InputError`
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
import os
from dataclasses import dataclass, field

import numpy as np

from common.errors import InputError, expected
from harness.metrics.records import (
    bboxes,
    column,
    flat_optional,
    id_column,
    lookup_rows,
    numbers,
    per_image,
    readonly,
    segmentations,
)
from harness.metrics.segm import mask_areas

__all__ = ["CocoDetections", "CocoGroundTruth", "load_json", "lookup_rows"]


def load_json(path: str | os.PathLike) -> object:
    """Read a JSON file, turning every way it can be unreadable into one :class:`InputError`.

    Example:
        >>> load_json("/nonexistent.json")
        Traceback (most recent call last):
        common.errors.InputError: /nonexistent.json: expected an existing JSON file, got nothing there
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
    except ValueError as exc:  # an integer longer than Python's digit limit (4300)
        raise InputError(expected("numbers of ordinary size", str(exc).split(";")[0], p)) from None
    except RecursionError:
        raise InputError(expected("JSON nested a few levels deep", "nesting too deep to read", p)) from None


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
        readonly(self.image_sizes, self.category_ids, self.image_index, self.category_index, self.boxes, self.areas, self.iscrowd)

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
        img_ids = id_column(column(images, "id", f"{source} images", "the image id"), f"{source} images", "id").tolist()
        if len(set(img_ids)) != len(img_ids):
            raise InputError(expected("unique image ids", "a repeated id", f"{source} images"))
        widths = numbers(column(images, "width", f"{source} images", "", default=0, required=False), f"{source} images", "width")
        heights = numbers(column(images, "height", f"{source} images", "", default=0, required=False), f"{source} images", "height")
        cat_ids = numbers(column(cats, "id", f"{source} categories", "the category id"), f"{source} categories", "id", ints=True)
        if len(np.unique(cat_ids)) != len(cat_ids):
            raise InputError(expected("unique category ids", "a repeated id", f"{source} categories"))
        names = [str(c.get("name", c["id"])) for c in cats]
        order = sorted(range(len(img_ids)), key=img_ids.__getitem__)
        image_ids = tuple(img_ids[i] for i in order)
        sizes = np.stack([widths, heights], axis=1).reshape(-1, 2)[order].astype(np.int64)
        corder = np.argsort(cat_ids, kind="stable")
        where = f"{source} annotations"
        img_idx = lookup_rows(column(anns, "image_id", where, "the image id"), image_ids, where, "image_id", "images")
        cat_idx = lookup_rows(column(anns, "category_id", where, "the category id"), tuple(cat_ids[corder].tolist()), where, "category_id", "categories")
        segms = None
        if iou_type == "segm":
            segms = segmentations(column(anns, "segmentation", where, "polygons or an RLE"), where)
        raw_boxes = column(anns, "bbox", where, "[x, y, width, height]", required=iou_type == "bbox", default=[0, 0, 0, 0])
        boxes = bboxes(raw_boxes, where)
        crowd = numbers(column(anns, "iscrowd", where, "", default=0, required=False), where, "iscrowd", ints=True)
        raw_area = column(anns, "area", where, "", default=None, required=False)
        if any(a is None for a in raw_area):
            if iou_type == "segm":
                fallback = mask_areas(segms, [sizes[i] for i in img_idx], where)
            else:
                fallback = boxes[:, 2] * boxes[:, 3]
            raw_area = [fallback[i] if a is None else a for i, a in enumerate(raw_area)]
        areas = numbers(raw_area, where, "area")
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
        image_ids = list(range(n)) if image_ids is None else id_column(list(image_ids), source, "image_ids").tolist()
        if len(set(image_ids)) != n:
            raise InputError(expected(f"{n} unique image ids", "a repeated id", f"{source} image_ids"))
        sizes = np.zeros((n, 2), np.int64) if image_sizes is None else np.asarray(image_sizes, np.float64).reshape(n, 2).astype(np.int64)
        cols = per_image(boxes, classes, source, box_format, sizes)
        bx, cls_all, img_idx = cols
        crowd = flat_optional(iscrowd, img_idx, n, bool, source, "iscrowd")
        area = flat_optional(areas, img_idx, n, np.float64, source, "areas")
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
        readonly(self.image_ids, self.category_ids, self.boxes, self.scores, self.areas)

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
        image_ids = id_column(column(records, "image_id", source, "the image id"), source, "image_id")
        cat_ids = numbers(column(records, "category_id", source, "the category id"), source, "category_id", ints=True)
        scores = numbers(column(records, "score", source, "the confidence"), source, "score")
        has_bbox = bool(records) and isinstance(records[0], dict) and bool(records[0].get("bbox"))
        segms = None
        if iou_type == "segm":
            segms = segmentations(column(records, "segmentation", source, "polygons or an RLE"), source)
        if iou_type == "bbox" or has_bbox:
            boxes = bboxes(column(records, "bbox", source, "[x, y, width, height]"), source)
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
        ids = list(range(n)) if image_ids is None else id_column(list(image_ids), source, "image_ids").tolist()
        sizes = np.zeros((n, 2), np.int64) if image_sizes is None else np.asarray(image_sizes, np.float64).reshape(n, 2)
        bx, cls_all, img_idx = per_image(boxes, classes, source, box_format, sizes)
        sc = flat_optional(scores, img_idx, n, np.float64, source, "scores")
        if sc is None or not np.isfinite(sc).all():
            raise InputError(expected("a finite score per detection", "a missing or NaN score", source))
        id_arr = np.asarray(ids, dtype=object if ids and isinstance(ids[0], str) else np.int64)
        return cls(id_arr[img_idx] if n else np.zeros(0, np.int64), cls_all, bx, sc, bx[:, 2] * bx[:, 3], None, source)
