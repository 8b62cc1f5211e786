"""Greedy COCO-style matching of one image's detections to its ground truth.

The rule is the one :func:`harness.metrics.evaluate_coco` applies (without crowd regions
or area ranges): detections are visited in descending score order (a stable sort, so equal
scores keep their input order); each takes, among the still unmatched ground-truth boxes of
its own class, the one with the highest IoU if that IoU is at least the threshold. Among
equal IoUs the later ground-truth box wins, as in pycocotools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import InputError, expected
from harness.metrics.boxes import as_boxes
from harness.metrics.iou import box_iou

__all__ = ["Matches", "match_detections"]


@dataclass(frozen=True)
class Matches:
    """Matched pairs of one image, in the order they were made (descending detection score).

    Attributes:
        gt_index: int64 ``(P,)`` index of each matched ground-truth box.
        dt_index: int64 ``(P,)`` index of the detection matched to it.
        iou: float64 ``(P,)`` IoU of each pair.
        n_gt: number of ground-truth boxes.
        n_dt: number of detections.
    """

    gt_index: np.ndarray
    dt_index: np.ndarray
    iou: np.ndarray
    n_gt: int
    n_dt: int

    @property
    def tp(self) -> int:
        """Matched detections."""
        return int(self.gt_index.size)

    @property
    def fp(self) -> int:
        """Unmatched detections."""
        return self.n_dt - self.tp

    @property
    def fn(self) -> int:
        """Unmatched ground-truth boxes."""
        return self.n_gt - self.tp

    def gt_iou(self) -> np.ndarray:
        """IoU of each ground-truth box with its matched detection, 0 where it was missed.

        Example:
            >>> m = match_detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0],
            ...                      [[0, 0, 10, 9]], [0.9], [0])
            >>> m.gt_iou()
            array([0.9, 0. ])
        """
        out = np.zeros(self.n_gt, np.float64)
        out[self.gt_index] = self.iou
        return out


def _vector(values: object, n: int, dtype: type, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype).reshape(-1) if np.size(values) else np.zeros(0, dtype)
    if arr.size != n:
        raise InputError(expected(f"{n} values (one per box)", arr.size, name))
    return arr


def match_detections(
    gt_boxes: object,
    gt_classes: object,
    dt_boxes: object,
    dt_scores: object,
    dt_classes: object,
    *,
    iou_threshold: float = 0.5,
) -> Matches:
    """Match one image's detections to its ground truth, greedily by descending score.

    Args:
        gt_boxes: ``(G, 4)`` xyxy ground-truth boxes.
        gt_classes: ``(G,)`` integer classes.
        dt_boxes: ``(D, 4)`` xyxy detections.
        dt_scores: ``(D,)`` confidences.
        dt_classes: ``(D,)`` integer classes.
        iou_threshold: the lowest IoU that counts as a match.

    Returns:
        The matched pairs; see :class:`Matches`.

    Raises:
        InputError: boxes not ``(N, 4)`` or per-box arrays of the wrong length.

    Example:
        >>> m = match_detections([[0, 0, 10, 10]], [1], [[0, 0, 10, 10], [1, 1, 10, 10]],
        ...                      [0.3, 0.8], [1, 1])
        >>> m.dt_index.tolist(), m.iou.tolist(), m.fp
        ([1], [0.81], 1)
    """
    gt = as_boxes(gt_boxes, name="gt_boxes")
    dt = as_boxes(dt_boxes, name="dt_boxes")
    g_cls = _vector(gt_classes, len(gt), np.int64, "gt_classes")
    d_cls = _vector(dt_classes, len(dt), np.int64, "dt_classes")
    scores = _vector(dt_scores, len(dt), np.float64, "dt_scores")
    empty = np.zeros(0, np.int64)
    if len(gt) == 0 or len(dt) == 0:
        return Matches(empty, empty.copy(), np.zeros(0), len(gt), len(dt))
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(dt[order], gt)
    iou[d_cls[order, None] != g_cls[None, :]] = -1.0
    ok = iou >= iou_threshold
    rows = np.flatnonzero(ok.any(axis=1))
    taken = np.zeros(len(gt), bool)
    g_out, d_out, v_out = [], [], []
    reversed_cols = np.arange(len(gt) - 1, -1, -1)
    for r in rows:
        cand = ok[r] & ~taken
        if not cand.any():
            continue
        vals = np.where(cand, iou[r], -1.0)[::-1]
        g = int(reversed_cols[np.argmax(vals)])  # argmax on the reversed row: ties go to the later box
        taken[g] = True
        g_out.append(g)
        d_out.append(int(order[r]))
        v_out.append(float(iou[r, g]))
    return Matches(
        np.asarray(g_out, np.int64),
        np.asarray(d_out, np.int64),
        np.asarray(v_out, np.float64),
        len(gt),
        len(dt),
    )
