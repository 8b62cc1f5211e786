"""Pairwise box overlap: IoU, GIoU, DIoU and CIoU, plus the legacy pixel-inclusive convention.

Definitions, for boxes ``a`` and ``b`` (xyxy), intersection ``I``, union ``U = |a| + |b| - I``,
smallest enclosing box ``C``, centre distance ``rho`` and ``C``'s diagonal ``c``:

* IoU  = I / U
* GIoU = IoU - (|C| - U) / |C|
* DIoU = IoU - rho^2 / c^2
* CIoU = DIoU - alpha * v, with v = 4 / pi^2 * (atan(w_b / h_b) - atan(w_a / h_a))^2
  and alpha = v / (1 - IoU + v)

Degenerate cases are defined, never NaN: a zero union gives IoU 0 (two empty boxes do not
"agree"), a zero-size enclosing box drops the GIoU/DIoU penalty, and ``alpha`` is 0 when its
denominator is 0.

``legacy_pixel=True`` counts pixels inclusively, ``width = x2 - x1 + 1``, as the PASCAL VOC
devkit and early detection code did; the default is the continuous convention that COCO,
torchvision and Ultralytics use.
"""

from __future__ import annotations

import numpy as np

from common.errors import InputError, expected
from harness.metrics.boxes import as_boxes

__all__ = ["IOU_KINDS", "box_iou"]

IOU_KINDS = ("iou", "giou", "diou", "ciou")


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape, np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def box_iou(a: object, b: object, kind: str = "iou", *, legacy_pixel: bool = False) -> np.ndarray:
    """Pairwise overlap of every box in ``a`` with every box in ``b``.

    Args:
        a: ``(N, 4)`` boxes, xyxy.
        b: ``(M, 4)`` boxes, xyxy.
        kind: ``"iou"``, ``"giou"``, ``"diou"`` or ``"ciou"``.
        legacy_pixel: count pixels inclusively (+1 on widths and heights), as the VOC devkit.

    Returns:
        ``(N, M)`` float64 matrix. IoU lies in [0, 1]; GIoU and DIoU in [-1, 1]; CIoU in [-1.5, 1].

    Raises:
        InputError: an unknown ``kind`` or boxes that are not ``(N, 4)``.

    Example:
        >>> box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2]])
        array([[0.14285714, 1.        ]])
        >>> float(box_iou([[0, 0, 1, 1]], [[2, 0, 3, 1]], "giou")[0, 0])
        -0.3333333333333333
    """
    if kind not in IOU_KINDS:
        raise InputError(expected(f"one of {', '.join(IOU_KINDS)}", repr(kind), "kind"))
    a = as_boxes(a, name="a")
    b = as_boxes(b, name="b")
    p = 1.0 if legacy_pixel else 0.0
    ax1, ay1, ax2, ay2 = (a[:, i, None] for i in range(4))
    bx1, by1, bx2, by2 = (b[None, :, i] for i in range(4))
    aw, ah = ax2 - ax1 + p, ay2 - ay1 + p
    bw, bh = bx2 - bx1 + p, by2 - by1 + p
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1) + p, 0.0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1) + p, 0.0, None)
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    iou = _safe_div(inter, union)
    if kind == "iou":
        return iou
    cw = np.maximum(ax2, bx2) - np.minimum(ax1, bx1) + p
    ch = np.maximum(ay2, by2) - np.minimum(ay1, by1) + p
    if kind == "giou":
        enclose = cw * ch
        return iou - _safe_div(enclose - union, enclose)
    rho2 = ((ax1 + ax2 - bx1 - bx2) ** 2 + (ay1 + ay2 - by1 - by2) ** 2) / 4.0
    diou = iou - _safe_div(rho2, cw**2 + ch**2)
    if kind == "diou":
        return diou
    v = (4.0 / np.pi**2) * (np.arctan2(bw, bh) - np.arctan2(aw, ah)) ** 2
    alpha = _safe_div(v, 1.0 - iou + v)
    return diou - alpha * v
