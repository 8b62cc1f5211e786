"""Instance-level score TP / (TP + FP + FN) averaged over IoU thresholds (the Kaggle-style metric).

For each IoU threshold ``t`` the detections (with score >= ``score_threshold``) are matched
to the ground truth with the same greedy rule as COCO (highest score first, per class), with
no cap on detections per image. Per image and threshold the score is
``TP / (TP + FP + FN)``; an image is scored as the mean over thresholds, and the dataset
as the mean over images (the Data Science Bowl 2018 definition). Images with neither
ground truth nor detections have no score (0/0) and are left out of the mean. Detections
on crowd regions are ignored, and crowd regions are never counted as missed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.metrics.coco import CocoParams, match_coco

__all__ = ["InstanceScore", "instance_score"]

THRESHOLDS = tuple(float(v) for v in np.linspace(0.5, 0.95, 10))


@dataclass(frozen=True)
class InstanceScore:
    """The instance-level score and its pieces.

    Attributes:
        thresholds: IoU thresholds.
        score: mean over images of the per-image mean over thresholds (NaN if no image counts).
        per_threshold: ``(T,)`` mean over images at each threshold.
        per_image: ``(I,)`` per-image score in ``image_ids`` order, NaN where undefined.
        tp: ``(T,)`` true positives summed over images; ``fp`` and ``fn`` likewise.
        image_ids: the images, in evaluation order.
    """

    thresholds: tuple
    score: float
    per_threshold: np.ndarray
    per_image: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    image_ids: tuple

    def to_dict(self) -> dict:
        """JSON-ready numbers (NaN becomes None)."""
        clean = lambda v: None if v is None or not np.isfinite(v) else float(v)  # noqa: E731
        return {
            "score": clean(self.score),
            "thresholds": list(self.thresholds),
            "per_threshold": [clean(v) for v in self.per_threshold],
            "tp": self.tp.tolist(), "fp": self.fp.tolist(), "fn": self.fn.tolist(),
        }


def instance_score(
    gt: object,
    dt: object,
    *,
    thresholds: tuple = THRESHOLDS,
    score_threshold: float = 0.0,
    iou_type: str = "bbox",
) -> InstanceScore:
    """Compute the instance-level score.

    Args:
        gt: ground truth as :func:`~harness.metrics.evaluate_coco` takes it.
        dt: detections likewise.
        thresholds: IoU thresholds (default .50:.05:.95).
        score_threshold: detections below this confidence are dropped first.
        iou_type: ``"bbox"`` or ``"segm"``.

    Returns:
        An :class:`InstanceScore`.

    Example:
        >>> from harness.metrics import CocoDetections, CocoGroundTruth
        >>> gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 10.], [20, 20, 30, 30]])], [np.array([0, 0])])
        >>> dt = CocoDetections.from_arrays([np.array([[0, 0, 10, 10.], [50, 50, 60, 60]])],
        ...                                 [np.array([0.9, 0.8])], [np.array([0, 0])])
        >>> s = instance_score(gt, dt)
        >>> round(s.score, 4), s.tp.tolist()[:2], s.fn.tolist()[:2]
        (0.3333, [1, 1], [1, 1])
    """
    params = CocoParams(iou_thresholds=tuple(thresholds), max_dets=(10**9,),
                        area_ranges=((0.0, float("inf")),), area_labels=("all",))
    g, _, m = match_coco(gt, dt, iou_type, params)
    n_img = len(g.image_ids)
    keep = m.score >= score_threshold
    img = m.img[keep]
    tp = m.tp[0][:, keep]
    fp = m.fp[0][:, keep]
    n_gt = np.bincount(g.image_index[~g.iscrowd], minlength=n_img)
    T = len(params.iou_thresholds)
    tp_img = np.stack([np.bincount(img[tp[t]], minlength=n_img) for t in range(T)]) if T else np.zeros((0, n_img), int)
    fp_img = np.stack([np.bincount(img[fp[t]], minlength=n_img) for t in range(T)]) if T else np.zeros((0, n_img), int)
    fn_img = n_gt[None, :] - tp_img
    denom = tp_img + fp_img + fn_img
    ratio = np.full(denom.shape, np.nan)
    np.divide(tp_img, denom, out=ratio, where=denom > 0)
    counted = (denom > 0).any(axis=0)
    finite = np.isfinite(ratio)
    per_image = np.full(n_img, np.nan)
    per_image[counted] = np.where(finite, ratio, 0.0)[:, counted].sum(axis=0) / finite[:, counted].sum(axis=0)
    n_t = finite[:, counted].sum(axis=1)
    per_threshold = np.full(T, np.nan)
    np.divide(np.where(finite, ratio, 0.0)[:, counted].sum(axis=1), n_t, out=per_threshold, where=n_t > 0)
    score = float(per_image[counted].mean()) if counted.any() else float("nan")
    return InstanceScore(params.iou_thresholds, score, per_threshold, per_image,
                         tp_img.sum(axis=1), fp_img.sum(axis=1), fn_img.sum(axis=1), g.image_ids)
