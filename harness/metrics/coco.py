"""COCO detection evaluation, numerically identical to pycocotools, vectorized with numpy.

:func:`evaluate_coco` is the entry point. It runs the same protocol as pycocotools'
``COCOeval`` (``evaluate``, ``accumulate``, ``summarize``): IoU thresholds .50:.05:.95,
101 recall points, at most 1/10/100 detections per image and category, area ranges
all/small/medium/large from the ground truth's ``area`` field, crowd regions as ignore
regions (IoU = intersection / detection area), score ties broken by a stable sort. The
``stats`` are the 12 numbers ``COCOeval.summarize`` prints, in the same order, and agree
with pycocotools to within 1e-9 (they are the same float operations; the tests check
random sets against pycocotools and faster-coco-eval).

Known, deliberate differences from pycocotools:

* a ground-truth annotation with ``id`` 0 matches like any other (pycocotools counts a
  match with it as a false positive, because it stores matches as ids and tests for 0);
* ``stats[0]`` uses the largest ``max_dets`` (pycocotools looks for exactly 100, so with
  other ``max_dets`` it prints -1);
* unknown image or category ids in the detections are errors, not asserts or silent drops.

Resampling: :meth:`CocoResult.resample_map` recomputes mAP@[.50:.95] for a multiset of the
images (each image counted ``w`` times) from the stored per-detection matches, without
matching again; :mod:`harness.metrics.bootstrap` builds confidence intervals on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from common.errors import InputError, expected
from harness.metrics.accumulate import precision_at_recall, trim
from harness.metrics.coco_io import CocoDetections, CocoGroundTruth, load_json, lookup_rows
from harness.metrics.coco_match import Matching, match_all

__all__ = ["STAT_NAMES", "ClassAP", "CocoParams", "CocoResult", "evaluate_coco", "match_coco"]

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

# exactly pycocotools' Params.setDetParams values
_IOU_THRS = tuple(float(v) for v in np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True))
_REC_THRS = tuple(float(v) for v in np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True))
_AREAS = ((0.0**2, 1e5**2), (0.0**2, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
_AREA_LABELS = ("all", "small", "medium", "large")


@dataclass(frozen=True)
class CocoParams:
    """Evaluation settings (defaults are pycocotools' ``bbox``/``segm`` parameters).

    Attributes:
        iou_thresholds: IoU thresholds T.
        rec_thresholds: recall points R.
        max_dets: detections kept per image and category, ascending (M values).
        area_ranges: (low, high) per area range, the first one 'all' (A values).
        area_labels: names of the area ranges.
    """

    iou_thresholds: tuple = _IOU_THRS
    rec_thresholds: tuple = _REC_THRS
    max_dets: tuple = (1, 10, 100)
    area_ranges: tuple = _AREAS
    area_labels: tuple = _AREA_LABELS

    def __post_init__(self):
        md = tuple(int(m) for m in self.max_dets)
        if not md or any(m <= 0 for m in md):
            raise InputError(expected("positive max_dets", md, "max_dets"))
        object.__setattr__(self, "max_dets", tuple(sorted(md)))
        thr = tuple(float(t) for t in self.iou_thresholds)
        if not thr or not all(0.0 <= t <= 1.0 for t in thr):
            raise InputError(expected("IoU thresholds in [0, 1]", thr, "iou_thresholds"))
        object.__setattr__(self, "iou_thresholds", thr)
        rec = tuple(float(r) for r in self.rec_thresholds)
        if not rec or not all(0.0 <= r <= 1.0 for r in rec) or any(b <= a for a, b in zip(rec, rec[1:])):
            raise InputError(expected("recall thresholds in [0, 1], strictly ascending", rec, "rec_thresholds"))
        object.__setattr__(self, "rec_thresholds", rec)
        if not self.area_ranges:
            raise InputError(expected("at least one area range (the first one 'all')", "none", "area_ranges"))
        if len(self.area_ranges) != len(self.area_labels):
            raise InputError(expected("one label per area range", self.area_labels, "area_labels"))


@dataclass(frozen=True)
class ClassAP:
    """One row of the per-class table (NaN where the class has no ground truth)."""

    category_id: int
    name: str
    ap: float
    ap50: float
    ap75: float
    n_gt: int
    n_dt: int
    ar: float = float("nan")
    """AR: recall averaged over the IoU thresholds (area 'all', largest max_dets), pycocotools' AR100 for one class."""


@dataclass(frozen=True)
class _Resample:
    """What :meth:`CocoResult.resample_map` needs: area 'all', largest max_dets, trimmed."""

    tp: np.ndarray
    fp: np.ndarray
    counts: np.ndarray
    entry_img: np.ndarray
    gt_img: np.ndarray
    gt_cat: np.ndarray


@dataclass(frozen=True)
class CocoResult:
    """The outcome of :func:`evaluate_coco`.

    Attributes:
        stats: the 12 summary numbers in pycocotools order (see ``STAT_NAMES``); -1 where undefined.
        precision: ``(T, R, K, A, M)`` interpolated precision, -1 for categories without ground truth.
        recall: ``(T, K, A, M)`` final recall, -1 likewise.
        scores: ``(T, R, K, A, M)`` score at which each precision was reached.
        params: the settings used.
        iou_type: ``"bbox"`` or ``"segm"``.
        image_ids: image ids in evaluation (sorted) order.
        category_ids: category ids (K).
        category_names: their names.
        n_gt: non-crowd ground truths per category.
        n_dt: detections evaluated per category (within ``max_dets[-1]`` per image).
        matching: per-detection matches, for localization analysis.
    """

    stats: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    params: CocoParams
    iou_type: str
    image_ids: tuple
    category_ids: np.ndarray
    category_names: tuple
    n_gt: np.ndarray
    n_dt: np.ndarray
    matching: Matching = field(repr=False)
    _resample: _Resample = field(repr=False)

    def as_dict(self) -> dict:
        """The 12 stats by name, e.g. ``{"AP": 0.41, "AP50": 0.62, ...}``."""
        return {name: float(v) for name, v in zip(STAT_NAMES, self.stats)}

    def per_class_ap(self) -> dict:
        """AP@[.50:.95] per category name (area all, largest max_dets); -1 for a class without ground truth.

        Example:
            >>> gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 9, 9.]])], [np.array([0])],
            ...                                  category_ids=[0, 1], category_names=["car", "bus"])
            >>> dt = CocoDetections.from_arrays([np.array([[0, 0, 9, 9.]])], [np.array([0.8])], [np.array([0])])
            >>> {k: round(v, 3) for k, v in evaluate_coco(gt, dt).per_class_ap().items()}
            {'car': 1.0, 'bus': -1.0}
        """
        return {row.name: (-1.0 if np.isnan(row.ap) else row.ap) for row in self.per_class()}

    def ap_per_iou(self) -> dict:
        """AP at each IoU threshold (area 'all', largest max_dets, mean over classes), keyed ``"0.50"``, ``"0.55"``...

        None where no class has ground truth. Their mean is ``stats[0]``.

        Example:
            >>> gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 10.]])], [np.array([0])])
            >>> dt = CocoDetections.from_arrays([np.array([[0, 0, 10, 8.]])], [np.array([0.9])], [np.array([0])])
            >>> {k: round(v, 2) for k, v in evaluate_coco(gt, dt).ap_per_iou().items() if k in ("0.80", "0.85")}
            {'0.80': 1.0, '0.85': 0.0}
        """
        out = {}
        for t, thr in enumerate(self.params.iou_thresholds):
            v = _mean_valid(self.precision[t, :, :, 0, -1])
            out[f"{thr:.2f}"] = None if np.isnan(v) else v
        return out

    def per_class(self) -> list:
        """Per-class AP@[.50:.95], AP50, AP75 and AR (area 'all', largest max_dets), as :class:`ClassAP` rows."""
        thr = np.asarray(self.params.iou_thresholds)
        rows = []
        for k, cid in enumerate(self.category_ids):
            p = self.precision[:, :, k, 0, -1]
            rows.append(ClassAP(
                int(cid), self.category_names[k], _mean_valid(p),
                _mean_valid(p[np.where(thr == 0.5)[0]]), _mean_valid(p[np.where(thr == 0.75)[0]]),
                int(self.n_gt[k]), int(self.n_dt[k]), _mean_valid(self.recall[:, k, 0, -1]),
            ))
        return rows

    def resample_map(self, image_weights: object) -> float:
        """mAP@[.50:.95] (area all, largest max_dets) with image ``i`` counted ``image_weights[i]`` times.

        With all weights 1 this is ``stats[0]``; otherwise it equals evaluating a set in which
        the images are physically repeated, copies next to each other, except for detections
        with equal scores in the same image and class: here each one's copies sit together,
        where real copies would interleave. NaN when no category has ground truth left.

        Args:
            image_weights: non-negative integers, one per image in ``image_ids`` order.

        Example:
            >>> gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 10.]])] * 2, [np.array([0])] * 2)
            >>> dt = CocoDetections.from_arrays([np.array([[0, 0, 10, 10.]]), np.zeros((0, 4))],
            ...                                 [np.array([0.9]), np.zeros(0)], [np.array([0]), np.array([], int)])
            >>> r = evaluate_coco(gt, dt)
            >>> round(r.resample_map([1, 1]), 3), round(r.resample_map([2, 0]), 3)
            (0.505, 1.0)
        """
        w = np.asarray(image_weights)
        if w.shape != (len(self.image_ids),) or w.dtype.kind not in "iu" or (w < 0).any():
            raise InputError(expected(f"{len(self.image_ids)} non-negative integer weights", f"shape {w.shape} dtype {w.dtype}", "image_weights"))
        s = self._resample
        w = w.astype(np.int64)
        n_pos = np.bincount(s.gt_cat, weights=w[s.gt_img], minlength=len(self.category_ids)).round().astype(np.int64)
        present = n_pos > 0
        if not present.any():
            return float("nan")
        prec, _, _, _ = precision_at_recall(s.tp, s.fp, s.counts, n_pos, np.asarray(self.params.rec_thresholds), weights=w[s.entry_img])
        # summed in pycocotools' (T, R, K) order from a flat array, so weights of 1 give stats[0] exactly
        return float(np.mean(np.ascontiguousarray(prec.transpose(0, 2, 1)[:, :, present]).ravel()))


def _mean_valid(s: np.ndarray) -> float:
    v = s[s > -1]
    return float(np.mean(v)) if v.size else float("nan")


def _as_gt(gt: object, iou_type: str) -> CocoGroundTruth:
    if isinstance(gt, CocoGroundTruth):
        return gt
    if isinstance(gt, (str, os.PathLike)):
        return CocoGroundTruth.from_coco(load_json(gt), iou_type=iou_type, source=os.fspath(gt))
    return CocoGroundTruth.from_coco(gt, iou_type=iou_type)


def _as_dt(dt: object, iou_type: str) -> CocoDetections:
    if isinstance(dt, CocoDetections):
        return dt
    if isinstance(dt, (str, os.PathLike)):
        return CocoDetections.from_coco(load_json(dt), iou_type=iou_type, source=os.fspath(dt))
    return CocoDetections.from_coco(dt, iou_type=iou_type)


def evaluate_coco(
    gt: object,
    dt: object,
    iou_type: str = "bbox",
    *,
    max_dets: tuple = (1, 10, 100),
    iou_thresholds: tuple | None = None,
    rec_thresholds: tuple | None = None,
    area_ranges: tuple | None = None,
    area_labels: tuple | None = None,
) -> CocoResult:
    """Evaluate detections against ground truth with the COCO protocol.

    Args:
        gt: a :class:`CocoGroundTruth`, a COCO ground-truth dict, or a path to its JSON file.
        dt: a :class:`CocoDetections`, a COCO results list, or a path to its JSON file.
        iou_type: ``"bbox"`` or ``"segm"`` (masks; needs pycocotools for rasterizing polygons).
        max_dets: detections kept per image and category, three values for the AR stats.
        iou_thresholds: default .50:.05:.95.
        rec_thresholds: the recall points precision is interpolated at, ascending in [0, 1]; default
            pycocotools' 101 points 0:.01:1 (e.g. ``np.linspace(0, 1, 11)`` for the 11-point variant).
        area_ranges: default COCO's all/small/medium/large (the first must be 'all').
        area_labels: names for custom ``area_ranges``.

    Returns:
        A :class:`CocoResult`; ``result.stats`` holds the 12 pycocotools numbers.

    Raises:
        InputError: malformed ground truth or detections, or ids the ground truth lacks.

    Example:
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100], "area": 10000}]}
        >>> dt = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 90], "score": 0.9}]
        >>> r = evaluate_coco(gt, dt)
        >>> [round(float(v), 4) for v in r.stats[:4]]  # AP, AP50, AP75, APs (no small objects)
        [0.9, 1.0, 1.0, -1.0]
    """
    params = CocoParams(
        iou_thresholds=_IOU_THRS if iou_thresholds is None else tuple(iou_thresholds),
        rec_thresholds=_REC_THRS if rec_thresholds is None else tuple(rec_thresholds),
        max_dets=tuple(max_dets),
        area_ranges=_AREAS if area_ranges is None else tuple(tuple(float(v) for v in a) for a in area_ranges),
        area_labels=(_AREA_LABELS if area_ranges is None else tuple(area_labels or [f"area{i}" for i in range(len(area_ranges))])),
    )
    g, _, matching = match_coco(gt, dt, iou_type, params)
    return _accumulate(g, matching, params, iou_type)


def match_coco(gt: object, dt: object, iou_type: str, params: CocoParams) -> tuple:
    """Validate and link the inputs, then run the greedy matching (no accumulation).

    Returns:
        ``(CocoGroundTruth, CocoDetections, Matching)``; what VOC AP, the instance score and
        the localization analysis build on.
    """
    if iou_type not in ("bbox", "segm"):
        raise InputError(expected("iou_type 'bbox' or 'segm'", repr(iou_type), "iou_type"))
    g = _as_gt(gt, iou_type)
    d = _as_dt(dt, iou_type)
    if iou_type == "segm" and (g.segmentations is None or (len(d) and d.segmentations is None)):
        raise InputError(expected("segmentations in ground truth and detections for iou_type 'segm'", "boxes only", d.source))
    d_img = lookup_rows(d.image_ids, g.image_ids, d.source, "image_id", "images")
    d_cat = lookup_rows(d.category_ids, tuple(g.category_ids.tolist()), d.source, "category_id", "categories")
    return g, d, match_all(g, d, d_img, d_cat, params, iou_type)


def _accumulate(g: CocoGroundTruth, m: Matching, params: CocoParams, iou_type: str) -> CocoResult:
    T, R = len(params.iou_thresholds), len(params.rec_thresholds)
    K, A, M = len(g.category_ids), len(params.area_ranges), len(params.max_dets)
    rec_thrs = np.asarray(params.rec_thresholds)
    # filled as (A, M, T, K, R), returned in pycocotools' (T, R, K, A, M) layout
    precision = -np.ones((A, M, T, K, R))
    recall = -np.ones((A, M, T, K))
    scores = -np.ones((A, M, T, K, R))
    n_pos = np.stack([np.bincount(g.category_index[~m.gt_ignore[a]], minlength=K) for a in range(A)], axis=1) if A else np.zeros((K, 0), np.int64)
    # pycocotools' order: category, then descending score, ties by image then rank in the image
    # (the matching is already ordered by image, category, rank, and lexsort is stable)
    order = np.lexsort((-m.score, m.cat))
    any_tp = m.tp.any(axis=1)  # (A, n)
    active = any_tp | m.fp.any(axis=1)
    resample = None
    for mi, max_det in enumerate(params.max_dets):
        ent = order[m.rank[order] < max_det]
        counts = np.bincount(m.cat[ent], minlength=K)
        first_score = np.zeros(K)
        nonempty = counts > 0
        first_score[nonempty] = m.score[ent[(np.cumsum(counts) - counts)[nonempty]]]
        for a in range(A):
            kept = ent[trim(any_tp[a, ent], active[a, ent], counts)]
            k_counts = np.bincount(m.cat[kept], minlength=K)
            tp, fp = np.take(m.tp[a], kept, axis=1), np.take(m.fp[a], kept, axis=1)
            prec, rec, row, valid = precision_at_recall(tp, fp, k_counts, n_pos[:, a], rec_thrs)
            sc = np.where(valid, m.score[kept][np.where(valid, row, 0)] if len(kept) else 0.0, 0.0)
            sc[:, :, 0] = np.where(nonempty, first_score, 0.0)[None, :]
            present = n_pos[:, a] > 0
            precision[a, mi] = np.where(present[None, :, None], prec, -1.0)
            scores[a, mi] = np.where(present[None, :, None], sc, -1.0)
            recall[a, mi] = np.where(present[None, :], rec, -1.0)
            if a == 0 and mi == M - 1:
                gt_ok = ~m.gt_ignore[0]
                resample = _Resample(tp, fp, k_counts, m.img[kept], g.image_index[gt_ok], g.category_index[gt_ok])
    n_dt = np.bincount(m.cat, minlength=K)
    n_gt = np.bincount(g.category_index[~g.iscrowd], minlength=K)
    precision = np.ascontiguousarray(precision.transpose(2, 4, 3, 0, 1))
    scores = np.ascontiguousarray(scores.transpose(2, 4, 3, 0, 1))
    recall = np.ascontiguousarray(recall.transpose(2, 3, 0, 1))
    stats = _summarize(precision, recall, params)
    return CocoResult(stats, precision, recall, scores, params, iou_type, g.image_ids, g.category_ids,
                      g.category_names, n_gt, n_dt, m, resample)


def _summarize(precision: np.ndarray, recall: np.ndarray, p: CocoParams) -> np.ndarray:
    """``COCOeval.summarize`` for detections: the 12 stats, -1 where nothing is defined."""
    thr = np.asarray(p.iou_thresholds)
    md = p.max_dets

    def one(ap: bool, iou_thr: float | None = None, area: str = "all", max_det: int = md[-1]) -> float:
        aind = [i for i, lbl in enumerate(p.area_labels) if lbl == area]
        mind = [i for i, m in enumerate(md) if m == max_det]
        s = precision if ap else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == thr)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        v = s[s > -1]
        return float(np.mean(v)) if v.size else -1.0

    m2 = md[2] if len(md) > 2 else md[-1]
    return np.array([
        one(True),
        one(True, 0.5, max_det=m2),
        one(True, 0.75, max_det=m2),
        one(True, area="small", max_det=m2),
        one(True, area="medium", max_det=m2),
        one(True, area="large", max_det=m2),
        one(False, max_det=md[0]),
        one(False, max_det=md[1] if len(md) > 1 else md[-1]),
        one(False, max_det=m2),
        one(False, area="small", max_det=m2),
        one(False, area="medium", max_det=m2),
        one(False, area="large", max_det=m2),
    ])
