"""PASCAL VOC average precision at any IoU threshold, on the same matching engine as COCO.

:func:`voc_ap` is the interpolation alone (all points as VOC2010+, or 11 points as VOC2007).
:func:`evaluate_voc` matches with this project's greedy COCO rule at one IoU threshold, with
no area ranges and no cap on detections per image, crowd ground truths playing the part of
VOC's "difficult" objects (neither counted as positives nor punishing a detection), and then
builds each class's precision/recall curve over all detections sorted by score.

Two deliberate differences from the VOC devkit's own matching: a detection takes the best
*still unmatched* ground truth (the devkit takes the best overall and, if it is taken, counts
a false positive), and the threshold is inclusive (``IoU >= t``; the devkit uses ``>``).
Boxes use the continuous convention (no +1 on widths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import InputError, expected
from harness.metrics.coco import CocoParams, match_coco

__all__ = ["VocResult", "evaluate_voc", "voc_ap"]

NO_CAP = 10**9


def voc_ap(recall: object, precision: object, *, method: str = "all_points") -> float:
    """Area under a precision/recall curve, VOC style.

    Args:
        recall: recall after each detection (non-decreasing).
        precision: precision after each detection.
        method: ``"all_points"`` (VOC2010+: the precision envelope integrated over every
            recall change) or ``"11_point"`` (VOC2007: mean of the best precision at recall
            >= 0, 0.1, ..., 1).

    Returns:
        AP in [0, 1]; 0 for an empty curve.

    Raises:
        InputError: an unknown method or curves of different lengths.

    Example:
        >>> voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3])
        0.8333333333333333
        >>> round(voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3], method="11_point"), 4)
        0.8485
    """
    rec = np.asarray(recall, np.float64).reshape(-1)
    prec = np.asarray(precision, np.float64).reshape(-1)
    if rec.shape != prec.shape:
        raise InputError(expected("recall and precision of the same length", f"{rec.size} and {prec.size}", "voc_ap"))
    if method == "11_point":
        ap = 0.0
        for t in np.linspace(0.0, 1.0, 11):
            above = prec[rec >= t]
            ap += (above.max() if above.size else 0.0) / 11.0
        return float(ap)
    if method != "all_points":
        raise InputError(expected("method 'all_points' or '11_point'", repr(method), "method"))
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@dataclass(frozen=True)
class VocResult:
    """Per-class VOC AP at one IoU threshold.

    Attributes:
        iou_threshold: the threshold used.
        method: ``"all_points"`` or ``"11_point"``.
        category_ids: K category ids; ``category_names`` their names.
        ap: ``(K,)`` AP per class, NaN for a class without (non-crowd) ground truth.
        n_gt: ``(K,)`` non-crowd ground truths per class.
        mean_ap: mean of ``ap`` over classes with ground truth (NaN if none).
        recall: per class the recall curve; ``precision`` the precision curve.
    """

    iou_threshold: float
    method: str
    category_ids: np.ndarray
    category_names: tuple
    ap: np.ndarray
    n_gt: np.ndarray
    mean_ap: float
    recall: tuple
    precision: tuple

    def per_class_ap(self) -> dict:
        """AP per class name (NaN where the class has no ground truth)."""
        return {name: float(v) for name, v in zip(self.category_names, self.ap)}


def evaluate_voc(
    gt: object,
    dt: object,
    *,
    iou_threshold: float = 0.5,
    method: str = "all_points",
    iou_type: str = "bbox",
) -> VocResult:
    """VOC AP per class at ``iou_threshold``.

    Args:
        gt: ground truth as :func:`~harness.metrics.evaluate_coco` takes it.
        dt: detections likewise.
        iou_threshold: any value in [0, 1].
        method: ``"all_points"`` or ``"11_point"``.
        iou_type: ``"bbox"`` or ``"segm"``.

    Returns:
        A :class:`VocResult`.

    Example:
        >>> from harness.metrics import CocoDetections, CocoGroundTruth
        >>> gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 10.], [20, 20, 30, 30]])], [np.array([0, 0])])
        >>> dt = CocoDetections.from_arrays([np.array([[0, 0, 10, 10.], [50, 50, 60, 60], [20, 20, 30, 31]])],
        ...                                 [np.array([0.9, 0.8, 0.7])], [np.array([0, 0, 0])])
        >>> evaluate_voc(gt, dt).mean_ap
        0.8333333333333333
    """
    if method not in ("all_points", "11_point"):
        raise InputError(expected("method 'all_points' or '11_point'", repr(method), "method"))
    params = CocoParams(iou_thresholds=(float(iou_threshold),), max_dets=(NO_CAP,),
                        area_ranges=((0.0, float("inf")),), area_labels=("all",))
    g, _, m = match_coco(gt, dt, iou_type, params)
    K = len(g.category_ids)
    n_gt = np.bincount(g.category_index[~g.iscrowd], minlength=K)
    order = np.lexsort((-m.score, m.cat))  # stable: ties keep image order, as COCO
    tp, fp = m.tp[0, 0, order], m.fp[0, 0, order]
    counted = tp | fp
    order, tp, fp = order[counted], tp[counted], fp[counted]
    cats = m.cat[order]
    ap = np.full(K, np.nan)
    recalls, precisions = [], []
    for k in range(K):
        sel = cats == k
        ctp = np.cumsum(tp[sel])
        cfp = np.cumsum(fp[sel])
        rec = ctp / n_gt[k] if n_gt[k] else np.zeros(len(ctp))
        prec = ctp / np.maximum(ctp + cfp, 1)
        recalls.append(rec)
        precisions.append(prec)
        if n_gt[k]:
            ap[k] = voc_ap(rec, prec, method=method)
    present = n_gt > 0
    mean_ap = float(ap[present].mean()) if present.any() else float("nan")
    return VocResult(float(iou_threshold), method, g.category_ids, g.category_names, ap, n_gt, mean_ap,
                     tuple(recalls), tuple(precisions))
