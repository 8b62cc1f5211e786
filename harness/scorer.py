"""The scorer: per variant, accuracy and box quality on the whole scored set, and drops vs FP32.

Definitions (the README's "What the columns mean" repeats them in the words of the table):

- **mAP50-95 / mAP50**: the COCO protocol of :func:`harness.metrics.evaluate_coco` on every scored
  image, from detections kept at conf >= 0.001 after NMS (IoU 0.7, at most 300 per image).
- **Operating point** (default conf >= 0.25): detections below it are dropped; each image's
  detections are matched greedily (descending score) to same-class ground truth at IoU >= 0.5.
  TP = matched detections, FP = unmatched detections, FN = unmatched ground truth;
  precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean.
- **avg IoU** (the per-frame IoU): for each frame with ground truth, the mean over its ground-truth
  boxes of the IoU with the matched prediction (0 when missed); then the mean over those frames.
  Frames without ground truth are left out (their count is recorded).
- **TP IoU**: the mean IoU over all matched pairs (localization quality of what was found).
- **ΔmAP**: FP32's mAP50-95 minus the variant's, in points (x100), with a 95% confidence interval
  from a paired bootstrap over images (the same resampled images for both); **% of FP32** is the
  variant's mAP50-95 as a percentage of FP32's.
- **Agreement with FP32** (needs no ground truth): FP32's operating-point boxes are taken as the
  truth and the variant's are matched to them as above; agreement IoU = mean IoU of matched pairs,
  agreement recall = share of FP32's boxes the variant reproduces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harness.metrics.matching import match_detections

MATCH_IOU = 0.5


class FrameDetections(Protocol):
    boxes: np.ndarray  # (N, 4) xyxy, original image pixels
    scores: np.ndarray  # (N,)
    classes: np.ndarray  # (N,) int


class FrameTruth(Protocol):
    boxes: np.ndarray
    classes: np.ndarray


@dataclass(frozen=True, slots=True)
class FrameRow:
    """One line of the per-frame CSV: the frame's IoU and its counts at the operating point."""

    frame_id: int
    iou: float | None  # None when the frame has no ground truth
    n_gt: int
    n_pred: int
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """Precision, recall, F1 and IoU at the operating confidence, plus the per-frame rows."""

    conf: float
    precision: float | None
    recall: float | None
    f1: float | None
    avg_iou_per_frame: float | None
    mean_tp_iou: float | None
    frames: tuple[FrameRow, ...]
    frames_without_gt: int

    def per_frame_iou(self) -> np.ndarray:
        """IoU per frame with ground truth (NaN where the frame has none), in frame order."""
        return np.array([np.nan if r.iou is None else r.iou for r in self.frames], dtype=np.float64)


def _keep(d: FrameDetections, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = np.asarray(d.scores) >= conf
    return np.asarray(d.boxes)[m], np.asarray(d.scores)[m], np.asarray(d.classes)[m]


def operating_point(truth: Sequence[FrameTruth], dets: Sequence[FrameDetections], *, conf: float = 0.25,
                    iou_threshold: float = MATCH_IOU, frame_ids: Sequence[int] | None = None) -> OperatingPoint:
    """Score detections at one confidence against ground truth, frame by frame.

    Args:
        truth: per frame, ground truth with ``boxes`` (xyxy) and ``classes``.
        dets: per frame, detections with ``boxes``, ``scores``, ``classes``.
        conf: the operating confidence; lower-scored detections are dropped.
        iou_threshold: the IoU a match needs.
        frame_ids: ids written in the per-frame rows (default 0..n-1).

    Returns:
        The :class:`OperatingPoint`; ratios are None when undefined (no detections, no GT).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> gt = [NS(boxes=np.array([[0, 0, 10, 10.0]]), classes=np.array([0]))]
        >>> dt = [NS(boxes=np.array([[0, 0, 10, 8.0]]), scores=np.array([0.9]), classes=np.array([0]))]
        >>> round(operating_point(gt, dt).avg_iou_per_frame, 3)
        0.8
    """
    if len(truth) != len(dets):
        raise ValueError(f"{len(truth)} frames of truth but {len(dets)} of detections")
    ids = range(len(truth)) if frame_ids is None else frame_ids
    rows, tp_ious = [], []
    tp = fp = fn = 0
    frame_ious = []
    for fid, t, d in zip(ids, truth, dets):
        boxes, scores, classes = _keep(d, conf)
        m = match_detections(t.boxes, t.classes, boxes, scores, classes, iou_threshold=iou_threshold)
        tp, fp, fn = tp + m.tp, fp + m.fp, fn + m.fn
        tp_ious.append(m.iou)
        iou = float(m.gt_iou().mean()) if m.n_gt else None
        if iou is not None:
            frame_ious.append(iou)
        rows.append(FrameRow(int(fid), iou, m.n_gt, m.n_dt, m.tp, m.fp, m.fn))
    all_tp = np.concatenate(tp_ious) if tp_ious else np.zeros(0)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision is not None and recall is not None and precision + recall > 0 else
          (0.0 if precision is not None and recall is not None else None))
    return OperatingPoint(
        conf=conf, precision=precision, recall=recall, f1=f1,
        avg_iou_per_frame=float(np.mean(frame_ious)) if frame_ious else None,
        mean_tp_iou=float(all_tp.mean()) if all_tp.size else None,
        frames=tuple(rows), frames_without_gt=sum(r.iou is None for r in rows),
    )


@dataclass(frozen=True, slots=True)
class Agreement:
    """How well a variant reproduces the FP32 variant's boxes (no ground truth needed)."""

    mean_iou: float | None
    recall: float | None
    n_reference: int


def agreement(reference: Sequence[FrameDetections], variant: Sequence[FrameDetections], *, conf: float = 0.25,
              iou_threshold: float = MATCH_IOU) -> Agreement:
    """Match a variant's operating-point boxes to the reference's, taken as the truth.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> ref = [NS(boxes=np.array([[0, 0, 10, 10.0]]), scores=np.array([0.9]), classes=np.array([1]))]
        >>> agreement(ref, ref).mean_iou
        1.0
    """
    ious, n_ref, n_tp = [], 0, 0
    for r, v in zip(reference, variant):
        rb, _, rc = _keep(r, conf)
        vb, vs, vc = _keep(v, conf)
        m = match_detections(rb, rc, vb, vs, vc, iou_threshold=iou_threshold)
        ious.append(m.iou)
        n_ref += m.n_gt
        n_tp += m.tp
    all_iou = np.concatenate(ious) if ious else np.zeros(0)
    return Agreement(mean_iou=float(all_iou.mean()) if all_iou.size else None,
                     recall=n_tp / n_ref if n_ref else None, n_reference=n_ref)


def coco_inputs(truth: Sequence, dets: Sequence[FrameDetections], names: Sequence[str]):
    """Build the scoring core's ground truth and detections from per-frame arrays."""
    from harness.metrics.coco_io import CocoDetections, CocoGroundTruth

    cat_ids = list(range(len(names)))
    gt = CocoGroundTruth.from_arrays(
        [np.asarray(t.boxes, np.float64) for t in truth], [np.asarray(t.classes, np.int64) for t in truth],
        category_ids=cat_ids, category_names=list(names),
        iscrowd=None if all(getattr(t, "iscrowd", None) is None for t in truth) else
        [np.zeros(len(t.classes), bool) if getattr(t, "iscrowd", None) is None else t.iscrowd for t in truth],
        areas=None if all(getattr(t, "area", None) is None for t in truth) else
        [((t.boxes[:, 2] - t.boxes[:, 0]) * (t.boxes[:, 3] - t.boxes[:, 1])) if getattr(t, "area", None) is None else t.area for t in truth],
        source="scored ground truth")
    dt = CocoDetections.from_arrays([np.asarray(d.boxes, np.float64) for d in dets], [np.asarray(d.scores, np.float64) for d in dets],
                                    [np.asarray(d.classes, np.int64) for d in dets], source="variant detections")
    return gt, dt
