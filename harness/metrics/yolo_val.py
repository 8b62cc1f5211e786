"""What ``yolo val`` users expect beside mAP: a detection confusion matrix, P/R/F1 curves, the F1-optimal confidence.

Each follows Ultralytics' conventions (``ultralytics/utils/metrics.py`` and the detection validator),
so the numbers read the same as ``yolo val`` prints and plots, and the tests check them against
Ultralytics' own functions on the same inputs:

* **Confusion matrix** (``ConfusionMatrix.process_batch``): detections with confidence > 0.25 are
  matched class-agnostically to ground truth at IoU > 0.45, greedily in descending confidence (each
  detection takes its best unclaimed ground truth). ``matrix[predicted, true]`` counts matched pairs
  (off the diagonal: the right box, the wrong class); the last row (background) counts missed ground
  truth, the last column unmatched detections. Shape ``(nc + 1, nc + 1)``.
* **Correct detections** (``DetectionValidator.match_predictions``, greedy): per image, detections in
  descending confidence each claim the best unclaimed same-class ground truth with IoU >= the threshold.
* **P/R/F1 curves** (``ap_per_class``): per class with ground truth, precision and recall of the
  detections above each confidence on a grid (interpolated from the ranked detections; precision 1
  and recall 0 above the highest score), F1 = 2PR / (P + R); a class without detections is all 0.
* **F1-optimal confidence**: the grid point (1000 points over [0, 1]) where the class-mean F1 curve,
  box-smoothed over 10 % of the grid, peaks; the per-class P and R there form the per-class table.

numpy only. The IoU is :func:`harness.metrics.iou.box_iou` (no epsilon in the union).

Example:
    >>> from types import SimpleNamespace as NS
    >>> gt = [NS(boxes=np.array([[0, 0, 10, 10.], [20, 20, 30, 30]]), classes=np.array([0, 1]))]
    >>> dt = [NS(boxes=np.array([[0, 0, 10, 9.], [50, 50, 60, 60]]), scores=np.array([0.9, 0.8]),
    ...          classes=np.array([1, 0]))]
    >>> confusion_matrix(gt, dt, nc=2).tolist()  # a class-1 box on a class-0 object; one FP; one miss
    [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.metrics.iou import box_iou

__all__ = ["CM_CONF", "CM_IOU", "Curves", "confusion_matrix", "correct_detections", "matrix_from_cells", "pr_curves",
           "smooth", "yolo_val_summary"]

CM_CONF = 0.25  # Ultralytics' ConfusionMatrix.process_batch defaults
CM_IOU = 0.45
GRID = 1000  # Ultralytics' confidence grid for the curves
STORED_GRID = 101  # confidences 0.00, 0.01, ..., 1.00 in the record
EPS = 1e-16


def _frame(t, d):
    gb = np.asarray(t.boxes, np.float64).reshape(-1, 4)
    gc = np.asarray(t.classes, np.int64).reshape(-1)
    db = np.asarray(d.boxes, np.float64).reshape(-1, 4)
    ds = np.asarray(d.scores, np.float64).reshape(-1)
    dc = np.asarray(d.classes, np.int64).reshape(-1)
    return gb, gc, db, ds, dc


def confusion_matrix(truth: Sequence, dets: Sequence, nc: int, *, conf: float = CM_CONF,
                     iou: float = CM_IOU) -> np.ndarray:
    """The detection confusion matrix over all frames, ``[predicted, true]`` with a background row and column.

    Args:
        truth: per frame, ``boxes`` (xyxy) and ``classes``.
        dets: per frame, ``boxes``, ``scores``, ``classes``.
        nc: the number of classes (index ``nc`` is the background).
        conf: detections must score above it.
        iou: a match needs an IoU above it.

    Returns:
        ``(nc + 1, nc + 1)`` int64 counts.
    """
    m = np.zeros((nc + 1, nc + 1), np.int64)
    for t, d in zip(truth, dets):
        gb, gc, db, ds, dc = _frame(t, d)
        keep = ds > conf
        db, ds, dc = db[keep], ds[keep], dc[keep]
        if not len(gc):
            np.add.at(m, (dc, nc), 1)
            continue
        ious = box_iou(gb, db) if len(dc) else np.zeros((len(gc), 0))
        gt_match = np.full(len(gc), -1)
        candidates = np.flatnonzero((ious > iou).any(0))
        for j in candidates[np.argsort(-ds[candidates], kind="stable")]:
            g = ious[:, j].argmax()
            if ious[g, j] > iou:
                gt_match[g] = j
                ious[g] = 0
        matched = gt_match >= 0
        np.add.at(m, (dc[gt_match[matched]], gc[matched]), 1)
        np.add.at(m, (nc, gc[~matched]), 1)
        unmatched = np.ones(len(dc), bool)
        unmatched[gt_match[matched]] = False
        np.add.at(m, (dc[unmatched], nc), 1)
    return m


def correct_detections(gt_boxes, gt_classes, det_boxes, det_scores, det_classes,
                       thresholds: Sequence[float] = (0.5,)) -> np.ndarray:
    """Which detections of one image are correct at each IoU threshold (Ultralytics' greedy matching).

    Returns:
        bool ``(n_detections, len(thresholds))``, in the detections' given order.
    """
    db = np.asarray(det_boxes, np.float64).reshape(-1, 4)
    ds = np.asarray(det_scores, np.float64).reshape(-1)
    dc = np.asarray(det_classes, np.int64).reshape(-1)
    gb = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    gc = np.asarray(gt_classes, np.int64).reshape(-1)
    thr = np.asarray(thresholds, np.float64)
    correct = np.zeros((len(dc), len(thr)), bool)
    if not len(dc) or not len(gc):
        return correct
    order = np.argsort(-ds, kind="stable")
    iou = box_iou(gb, db[order]) * (gc[:, None] == dc[order][None, :])
    matched = np.zeros((len(gc), len(thr)), bool)
    cols = np.arange(len(thr))
    for j in np.flatnonzero((iou >= thr.min()).any(0)):
        available = np.where(matched, 0.0, iou[:, j, None])
        k = available.argmax(0)
        hit = available[k, cols] >= thr
        correct[order[j]] = hit
        matched[k, cols] |= hit
    return correct


@dataclass(frozen=True)
class Curves:
    """Per class with ground truth: precision, recall and F1 at each confidence of ``x``."""

    classes: np.ndarray  # class indices with ground truth, ascending
    n_gt: np.ndarray
    x: np.ndarray
    precision: np.ndarray  # (len(classes), len(x))
    recall: np.ndarray
    f1: np.ndarray

    def best_index(self) -> int:
        """The grid index of the F1-optimal confidence (the smoothed class-mean F1's peak)."""
        return int(smooth(self.f1.mean(0), 0.1).argmax()) if len(self.classes) else 0


def smooth(y: np.ndarray, f: float = 0.05) -> np.ndarray:
    """A box filter whose width is the fraction ``f`` of ``len(y)`` (Ultralytics' ``smooth``)."""
    nf = round(len(y) * f * 2) // 2 + 1
    p = np.ones(nf // 2)
    yp = np.concatenate((p * y[0], y, p * y[-1]), 0)
    return np.convolve(yp, np.ones(nf) / nf, mode="valid")


def pr_curves(tp: np.ndarray, conf: np.ndarray, pred_cls: np.ndarray, target_cls: np.ndarray,
              x: np.ndarray | None = None) -> Curves:
    """Precision, recall and F1 against confidence per class (Ultralytics' ``ap_per_class`` curves).

    Args:
        tp: bool ``(n,)`` whether each detection is correct (at IoU 0.5).
        conf: ``(n,)`` the detections' scores.
        pred_cls: ``(n,)`` their classes.
        target_cls: one class index per ground-truth box.
        x: the confidence grid (default 1000 points over [0, 1]).
    """
    x = np.linspace(0, 1, GRID) if x is None else np.asarray(x, np.float64)
    tp = np.asarray(tp, np.float64).reshape(-1)
    conf = np.asarray(conf, np.float64).reshape(-1)
    pred_cls = np.asarray(pred_cls).reshape(-1)
    i = np.argsort(-conf)
    tp, conf, pred_cls = tp[i], conf[i], pred_cls[i]
    classes, nt = np.unique(np.asarray(target_cls).reshape(-1), return_counts=True)
    p_curve, r_curve = np.zeros((len(classes), len(x))), np.zeros((len(classes), len(x)))
    for ci, c in enumerate(classes):
        sel = pred_cls == c
        if not sel.any():
            continue
        tpc = tp[sel].cumsum()
        fpc = (1 - tp[sel]).cumsum()
        r_curve[ci] = np.interp(-x, -conf[sel], tpc / (nt[ci] + EPS), left=0)
        p_curve[ci] = np.interp(-x, -conf[sel], tpc / (tpc + fpc), left=1)
    f1 = 2 * p_curve * r_curve / (p_curve + r_curve + EPS)
    return Curves(classes.astype(np.int64), nt.astype(np.int64), x, p_curve, r_curve, f1)


def yolo_val_summary(truth: Sequence, dets: Sequence, names: Sequence[str], *, coco=None,
                     conf: float = CM_CONF, iou: float = CM_IOU) -> dict:
    """The record's ``accuracy.yolo_val`` block (compact, JSON-ready; see :mod:`results.schema`).

    Args:
        truth, dets: per frame, as for :func:`confusion_matrix`.
        names: the class names (their order is the class index).
        coco: the same detections' :class:`harness.metrics.coco.CocoResult`, for the per-class mAP50 and
            mAP50-95 (the COCO protocol's, as the record's mAP), or None.
        conf, iou: the confusion matrix's thresholds.

    Returns:
        ``{"confusion": {"conf", "iou", "cells": [[pred, true, count], ...]},
        "curves": {"conf": [0, 1, 101], "precision", "recall", "f1"} (class means),
        "f1_optimal": {"conf", "precision", "recall", "f1"},
        "per_class": {name: {"n_gt", "precision", "recall", "map50", "map50_95"}}}``;
        class index ``len(names)`` in the cells is the background.
    """
    nc = len(names)
    per_class_map = {} if coco is None else {
        row.name: (None if np.isnan(row.ap50) else row.ap50, None if np.isnan(row.ap) else row.ap)
        for row in coco.per_class()}
    cm = confusion_matrix(truth, dets, nc, conf=conf, iou=iou)
    tps, confs, pcls, tcls = [], [], [], []
    for t, d in zip(truth, dets):
        gb, gc, db, ds, dc = _frame(t, d)
        tps.append(correct_detections(gb, gc, db, ds, dc)[:, 0])
        confs.append(ds)
        pcls.append(dc)
        tcls.append(gc)
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))
    tp, sc, pc, tc = cat(tps, bool), cat(confs, np.float64), cat(pcls, np.int64), cat(tcls, np.int64)
    curves = pr_curves(tp, sc, pc, tc)
    best = curves.best_index()
    stored = pr_curves(tp, sc, pc, tc, x=np.linspace(0, 1, STORED_GRID))
    r4 = (lambda v: [round(float(a), 4) for a in v])
    per_class = {}
    for k, c in enumerate(curves.classes):
        name = names[c] if 0 <= c < nc else str(int(c))
        maps = per_class_map.get(name)
        per_class[name] = {"n_gt": int(curves.n_gt[k]), "precision": round(float(curves.precision[k, best]), 4),
                           "recall": round(float(curves.recall[k, best]), 4),
                           "map50": None if maps is None or maps[0] is None else round(float(maps[0]), 4),
                           "map50_95": None if maps is None or maps[1] is None else round(float(maps[1]), 4)}
    have = len(curves.classes) > 0
    return {
        "confusion": {"conf": conf, "iou": iou,
                      "cells": [[int(p), int(t), int(cm[p, t])] for p, t in zip(*np.nonzero(cm))]},
        "curves": {"conf": [0.0, 1.0, STORED_GRID],
                   "precision": r4(stored.precision.mean(0)) if have else None,
                   "recall": r4(stored.recall.mean(0)) if have else None,
                   "f1": r4(stored.f1.mean(0)) if have else None},
        "f1_optimal": None if not have else {
            "conf": round(float(curves.x[best]), 4), "precision": round(float(curves.precision[:, best].mean()), 4),
            "recall": round(float(curves.recall[:, best].mean()), 4), "f1": round(float(curves.f1[:, best].mean()), 4)},
        "per_class": per_class,
    }


def matrix_from_cells(cells: Sequence, nc: int) -> np.ndarray:
    """The ``(nc + 1, nc + 1)`` matrix back from the record's sparse ``[pred, true, count]`` cells."""
    m = np.zeros((nc + 1, nc + 1), np.int64)
    for p, t, n in cells:
        m[p, t] = n
    return m
