"""Pixel metrics for binary and multi-class masks, from one confusion matrix.

Inputs are a prediction and a target of the same shape (one image ``H x W`` or a batch
``N x H x W``; every pixel counts once). A **binary** prediction is bool, or float
probabilities thresholded at ``threshold`` (foreground when ``p >= threshold``); a
**multi-class** prediction is an integer label map with ``num_classes`` classes.

Definitions, per class ``c`` one-vs-rest (TP, FP, FN, TN counted in pixels):

* IoU (Jaccard) = TP / (TP + FP + FN); Dice = 2TP / (2TP + FP + FN)
* precision = TP / (TP + FP); recall = TP / (TP + FN); F1 = 2PR / (P + R)
* specificity = TN / (TN + FP); accuracy = (TP + TN) / pixels
* pixel accuracy (global) = correctly labelled pixels / pixels; per class = recall of the class
* semantic mean IoU = mean of the per-class IoU over classes present in the prediction or the target

Empty masks. For the binary headline numbers (the foreground class), empty vs. empty is
perfect agreement: IoU = Dice = 1. A ratio with a zero denominator is 1 when the prediction
made no error of that kind and 0 otherwise: precision with nothing predicted is 1 if the
target is empty too, else 0; recall with an empty target is 1 if nothing was predicted, else
0; specificity with no background in the target is 1 if no background was predicted, else 0.
In the per-class arrays, a class absent from both prediction and target is NaN and is left
out of every mean (so an image with no foreground does not inflate the semantic mean IoU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import InputError, expected

__all__ = ["MaskMetrics", "mask_metrics"]


@dataclass(frozen=True)
class MaskMetrics:
    """Mask metrics (see the module docstring for definitions and empty-mask rules).

    Attributes:
        n_classes: 2 for binary masks.
        binary: whether the inputs were binary.
        iou, dice, precision, recall, f1, specificity: the foreground class for binary masks,
            the mean over present classes for multi-class masks.
        accuracy: global pixel accuracy (equal to ``pixel_accuracy``).
        pixel_accuracy: correctly labelled pixels / pixels.
        mean_iou: semantic mean IoU over classes present in prediction or target.
        per_class_iou, per_class_dice, per_class_precision, per_class_recall, per_class_f1,
        per_class_specificity, per_class_accuracy: ``(n_classes,)`` arrays, NaN for absent classes.
        confusion: ``(n_classes, n_classes)`` pixel counts, rows = target, columns = prediction.
    """

    n_classes: int
    binary: bool
    iou: float
    dice: float
    precision: float
    recall: float
    f1: float
    specificity: float
    accuracy: float
    pixel_accuracy: float
    mean_iou: float
    per_class_iou: np.ndarray
    per_class_dice: np.ndarray
    per_class_precision: np.ndarray
    per_class_recall: np.ndarray
    per_class_f1: np.ndarray
    per_class_specificity: np.ndarray
    per_class_accuracy: np.ndarray
    confusion: np.ndarray


def _labels(arr: np.ndarray, name: str, threshold: float, binary: bool, n_classes: int | None) -> np.ndarray:
    if binary:
        if arr.dtype == bool:
            return arr.astype(np.int64)
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all():
                raise InputError(expected("finite mask values", "NaN or infinity", name))
            return (arr >= threshold).astype(np.int64)
        if arr.dtype.kind in "iu":
            if arr.size and (arr.min() < 0 or arr.max() > 1):
                raise InputError(expected("a binary mask of 0 and 1", f"values {arr.min()}..{arr.max()}", name))
            return arr.astype(np.int64)
        raise InputError(expected("a bool, 0/1 or probability mask", arr.dtype, name))
    if arr.dtype.kind not in "iub":
        raise InputError(expected("an integer label map", arr.dtype, name))
    lab = arr.astype(np.int64)
    if lab.size and (lab.min() < 0 or lab.max() >= n_classes):
        raise InputError(expected(f"labels in 0..{n_classes - 1}", f"values {lab.min()}..{lab.max()}", name))
    return lab


def _ratio(num: np.ndarray, den: np.ndarray, empty_value: np.ndarray) -> np.ndarray:
    out = np.asarray(empty_value, np.float64).copy()
    np.divide(num, den, out=out, where=den > 0)
    return out


def mask_metrics(pred: object, target: object, *, num_classes: int | None = None, threshold: float = 0.5) -> MaskMetrics:
    """Compare a predicted mask with the target mask.

    Args:
        pred: bool / 0-1 / probability mask (binary) or integer label map (multi-class).
        target: same shape as ``pred``; bool / 0-1, or integer labels.
        num_classes: number of classes for label maps; None means binary masks.
        threshold: probability threshold for float predictions (foreground when ``p >= threshold``).

    Returns:
        A :class:`MaskMetrics`.

    Raises:
        InputError: different shapes, empty masks, labels out of range, NaN probabilities.

    Example:
        >>> t = np.zeros((4, 4), bool); t[:2, :2] = True
        >>> p = np.zeros((4, 4)); p[:2, :3] = 0.9
        >>> m = mask_metrics(p, t)
        >>> round(m.iou, 4), round(m.dice, 4), m.recall, round(m.precision, 4), m.accuracy
        (0.6667, 0.8, 1.0, 0.6667, 0.875)
    """
    p = np.asarray(pred)
    t = np.asarray(target)
    if p.shape != t.shape:
        raise InputError(expected(f"a prediction of the target's shape {t.shape}", p.shape, "pred"))
    if p.size == 0:
        raise InputError(expected("masks with at least one pixel", "empty arrays", "pred"))
    binary = num_classes is None
    if not binary and (not isinstance(num_classes, (int, np.integer)) or num_classes < 2):
        raise InputError(expected("num_classes >= 2 (or None for binary masks)", num_classes, "num_classes"))
    C = 2 if binary else int(num_classes)
    pl = _labels(p, "pred", threshold, binary, C)
    tl = _labels(t, "target", threshold, binary, C)
    cm = np.bincount((tl * C + pl).ravel(), minlength=C * C).reshape(C, C)
    n = cm.sum()
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    tn = n - tp - fp - fn
    present = (tp + fp + fn) > 0
    nan = np.full(C, np.nan)
    iou = np.where(present, _ratio(tp, tp + fp + fn, nan), np.nan)
    dice = np.where(present, _ratio(2 * tp, 2 * tp + fp + fn, nan), np.nan)
    # zero denominators: 1 if no error of that kind was made, else 0
    precision = _ratio(tp, tp + fp, np.where(fn == 0, 1.0, 0.0))
    recall = _ratio(tp, tp + fn, np.where(fp == 0, 1.0, 0.0))
    specificity = _ratio(tn, tn + fp, np.where((n - (tp + fp)) == 0, 1.0, 0.0))
    f1 = _ratio(2 * precision * recall, precision + recall, np.zeros(C))
    class_acc = _ratio(tp, tp + fn, nan)
    pixel_acc = float(tp.sum() / n)
    cls_arrays = [np.where(present, a, np.nan) for a in (precision, recall, f1, specificity)]
    if binary:
        fg = 1
        head = dict(
            iou=float(iou[fg]) if present[fg] else 1.0,
            dice=float(dice[fg]) if present[fg] else 1.0,
            precision=float(precision[fg]), recall=float(recall[fg]), f1=float(f1[fg]),
            specificity=float(specificity[fg]),
        )
    else:
        mean = lambda a: float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")  # noqa: E731
        head = dict(iou=mean(iou), dice=mean(dice), precision=mean(cls_arrays[0]), recall=mean(cls_arrays[1]),
                    f1=mean(cls_arrays[2]), specificity=mean(cls_arrays[3]))
    return MaskMetrics(
        n_classes=C, binary=binary, accuracy=pixel_acc, pixel_accuracy=pixel_acc,
        mean_iou=float(np.nanmean(iou)) if present.any() else float("nan"),
        per_class_iou=iou, per_class_dice=dice, per_class_precision=cls_arrays[0], per_class_recall=cls_arrays[1],
        per_class_f1=cls_arrays[2], per_class_specificity=cls_arrays[3], per_class_accuracy=class_acc,
        confusion=cm, **head,
    )
