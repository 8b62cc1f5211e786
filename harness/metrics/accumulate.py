"""Precision at fixed recall points from matched detections: pycocotools' ``accumulate``, vectorized.

The input is, for every category (a contiguous segment of detections sorted by descending
score) and every IoU threshold (a row), whether each detection is a true positive, a false
positive, or neither (ignored). pycocotools walks each (threshold, category) in Python; here
all of them are handled at once with integer arithmetic, so the numbers are the same floats:

* ``tp`` and ``fp`` are integer running counts, segment-local;
* precision is ``tp / (fp + tp + eps)`` and recall ``tp / n_positive``, the same operations;
* ``searchsorted(recall, r)`` becomes "first position whose ``tp`` reaches ``x_r``", where
  ``x_r`` is the smallest integer with ``x_r / n_positive >= r`` in float64 (exactly the
  positions pycocotools finds, because float division is monotone);
* the precision envelope is only needed at those positions: block maxima between them
  (``maximum.reduceat``) and a running maximum from the right over at most 101 blocks.

Detections that are ignored at every threshold, and those after a category's last true
positive, cannot change any of these numbers and are dropped before this kernel runs
(see :func:`trim`).

Weights generalize the counts: a detection with weight ``w`` counts as ``w`` copies in a row.
That is what a bootstrap resample of images is (each image drawn ``w`` times), and it gives
the same precision as physically repeating the images would, because inside a block of
identical copies precision is monotone and the envelope ends up at the block's end.
"""

from __future__ import annotations

import numpy as np

__all__ = ["min_counts", "precision_at_recall", "trim"]

EPS = np.spacing(1)


def min_counts(n_pos: np.ndarray, rec_thresholds: np.ndarray) -> np.ndarray:
    """Smallest integer ``x`` with ``x / n_pos >= r`` (float64), per category and recall point.

    Example:
        >>> min_counts(np.array([3]), np.array([0.0, 0.3, 0.34, 1.0])).tolist()
        [[0, 1, 2, 3]]
    """
    n = np.asarray(n_pos, np.int64)[:, None]
    r = np.asarray(rec_thresholds, np.float64)[None, :]
    safe = np.maximum(n, 1)
    x = np.maximum(np.ceil(r * safe).astype(np.int64) - 1, 0)
    for _ in range(3):
        x = np.where(x / safe >= r, x, x + 1)
    return x


def trim(any_tp: np.ndarray, active: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Positions worth keeping: not ignored at every threshold, and not after the last true positive.

    Args:
        any_tp: bool ``(n,)`` true positive at some threshold.
        active: bool ``(n,)`` true or false positive at some threshold (not always ignored).
        counts: detections per category segment (sums to ``n``).

    Returns:
        bool ``(n,)`` mask.

    Example:
        >>> trim(np.array([0, 1, 0, 0, 1, 0], bool), np.array([1, 1, 0, 1, 1, 1], bool), np.array([3, 3])).astype(int).tolist()
        [1, 1, 0, 1, 1, 0]
    """
    n = len(any_tp)
    if n == 0:
        return np.zeros(0, bool)
    seg = np.repeat(np.arange(len(counts)), counts)
    pos = np.where(any_tp, np.arange(n), -1)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    nonempty = counts > 0
    last = np.full(len(counts), -1, np.int64)
    last[nonempty] = np.maximum.reduceat(pos, starts[nonempty])
    return active & (np.arange(n) <= last[seg])


def precision_at_recall(
    tp: np.ndarray,
    fp: np.ndarray,
    counts: np.ndarray,
    n_pos: np.ndarray,
    rec_thresholds: np.ndarray,
    *,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Interpolated precision at each recall point, for every threshold and category at once.

    Args:
        tp: bool ``(T, n)``; detections sorted by category, then descending score.
        fp: bool ``(T, n)``.
        counts: int ``(K,)`` detections in each category segment.
        n_pos: int ``(K,)`` non-ignored ground truths per category (weighted if resampling).
        rec_thresholds: ``(R,)`` recall points.
        weights: optional int ``(n,)`` multiplicity of each detection.

    Returns:
        ``precision`` ``(T, K, R)`` (0 where the recall is never reached), ``recall`` ``(T, K)``
        (the final recall, 0 for an empty segment), ``position`` ``(T, K, R)`` the row in ``tp``
        whose precision was taken, and ``valid`` ``(T, K, R)``. Categories with ``n_pos == 0``
        are returned too; the caller marks them absent (-1).
    """
    T, n = tp.shape
    K, R = len(counts), len(rec_thresholds)
    counts = np.asarray(counts, np.int64)
    offs = np.concatenate(([0], np.cumsum(counts)))
    nonempty = counts > 0
    starts = offs[:-1][nonempty]
    w = None if weights is None else np.asarray(weights, np.int64)

    def local_cumsum(flags: np.ndarray) -> np.ndarray:
        x = flags.astype(np.int64) if w is None else flags * w
        if n:  # subtract the previous segment's total at each segment start, then one cumsum
            total = np.add.reduceat(x, starts, axis=1)
            x[:, starts[1:]] -= total[:, :-1]
            np.cumsum(x, axis=1, out=x)
        return x

    tpl = local_cumsum(tp)
    fpl = local_cumsum(fp)
    pr = tpl / ((fpl + tpl) + EPS)  # pycocotools: tp / (fp + tp + eps), integer-valued floats
    del fpl
    last = offs[1:] - 1
    final_tp = np.zeros((T, K), np.float64)
    if n:
        final_tp[:, nonempty] = tpl[:, last[nonempty]]

    n_pos = np.asarray(n_pos, np.int64)
    limit = int(final_tp.max()) + 1 if n else 1
    x = np.minimum(min_counts(n_pos, rec_thresholds), limit)  # (K, R); limit = never reached
    x[n_pos <= 0] = limit
    big = limit + 1
    seg = np.repeat(np.arange(K, dtype=np.int64), counts)
    tpl += seg * big  # keys, increasing along each row and from row to row
    tpl += (np.arange(T, dtype=np.int64) * (K * big))[:, None]
    query = (np.arange(T)[:, None, None] * K + np.arange(K)[None, :, None]) * big + x[None, :, :]
    position = np.searchsorted(tpl.ravel(), query.ravel(), side="left").reshape(T, K, R)
    seg_end = np.arange(T)[:, None] * n + offs[1:][None, :]
    valid = position < seg_end[:, :, None]

    bounds = np.concatenate([position, seg_end[:, :, None]], axis=2).ravel()
    flat = np.append(pr.ravel(), 0.0)
    block = np.maximum.reduceat(flat, bounds).reshape(T, K, R + 1)[:, :, :R] if len(bounds) else np.zeros((T, K, R))
    block = np.where(valid, block, -np.inf)
    envelope = np.maximum.accumulate(block[:, :, ::-1], axis=2)[:, :, ::-1]
    precision = np.where(valid, envelope, 0.0)

    recall = np.zeros((T, K))
    np.divide(final_tp, n_pos[None, :].astype(np.float64), out=recall, where=(n_pos[None, :] > 0) & nonempty[None, :])
    row = position - (np.arange(T)[:, None, None] * n)
    return precision, recall, row, valid
