"""Postprocessing: decode raw YOLO outputs, class-aware NMS in numpy, undo the letterbox.

The semantics are those of Ultralytics' ``predict`` (``ops.non_max_suppression`` with
``multi_label=False``, then ``scale_boxes``), so that a variant scored here detects exactly what
``YOLO(model.onnx).predict(...)`` would on the same input:

1. A candidate is an anchor whose best class score is ``> conf`` (strictly greater).
2. Its class is the argmax over class scores (first index on ties), its score that maximum.
3. If more than ``max_nms`` candidates remain, only the ``max_nms`` highest scores are kept.
4. Greedy NMS in descending score order (stable: ties keep anchor order); a box is suppressed when
   its IoU with a kept box is ``> iou``. Class-aware by offsetting each box by ``class * 7680``
   pixels (so boxes of different classes never overlap), computed in float32 like torchvision.
5. At most ``max_det`` boxes are kept, highest score first.
6. Boxes are mapped back to the original image (subtract padding, divide by the per-axis resize
   gain) and clipped to ``[0, width] x [0, height]``.

Raw output layout: ``[1, 4 + nc, anchors]`` (Ultralytics' export layout: ``cx, cy, w, h`` in network
input pixels, then class scores already passed through a sigmoid) or the transposed
``[1, anchors, 4 + nc]``. Pass ``nc`` to fix the layout; without it the output is taken to be
channels-first unless its second axis is longer than its third (real models have more anchors than
channels; only toy inputs below 64 pixels do not).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from common.errors import InputError, expected
from harness.pipeline.preprocess import LetterboxInfo

__all__ = ["MAX_NMS", "MAX_WH", "NMS_BLOCK", "Detections", "check_settings", "decode", "nms", "postprocess", "unletterbox"]

MAX_WH = 7680
"""Per-class coordinate offset (pixels) that separates classes in class-aware NMS (as Ultralytics)."""

MAX_NMS = 30000
"""At most this many candidates enter NMS, highest scores first (as Ultralytics)."""


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one image, highest score first.

    Attributes:
        boxes: ``(N, 4)`` float64 ``x1, y1, x2, y2`` in original-image pixels, clipped to the image.
        scores: ``(N,)`` float64 confidence (the best class score).
        classes: ``(N,)`` int64 class index.

    Example:
        >>> d = Detections.empty()
        >>> len(d), d.boxes.shape
        (0, (0, 4))
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def empty(cls) -> Detections:
        """No detections (the arrays have the right shapes and dtypes)."""
        return cls(np.zeros((0, 4), np.float64), np.zeros(0, np.float64), np.zeros(0, np.int64))


def check_settings(conf: float, iou: float, max_det: int, max_nms: int = MAX_NMS) -> None:
    """Validate postprocess settings, naming the bad one.

    Raises:
        InputError: a threshold is outside [0, 1] or a count is not a positive integer.
    """
    for name, value, what in (("conf", conf, "a confidence threshold"), ("iou", iou, "an NMS IoU threshold")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.0 <= value <= 1.0:
            raise InputError(expected(f"{what} in [0, 1]", value, name))
    for name, value in (("max_det", max_det), ("max_nms", max_nms)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(expected("a positive integer", value, name))


def _channels_first(output: np.ndarray, nc: int | None) -> np.ndarray:
    """Validate a raw output and return it as a float32 ``(4 + nc, anchors)`` array (a view if possible)."""
    if not isinstance(output, np.ndarray) or output.ndim != 3 or output.shape[0] != 1:
        got = f"shape {output.shape}" if isinstance(output, np.ndarray) else type(output).__name__
        raise InputError(expected("a raw detection output of shape [1, 4+nc, anchors] or [1, anchors, 4+nc]", got, "model output"))
    out = output[0]
    if nc is None:
        if out.shape[0] > out.shape[1]:
            out = out.T
    elif out.shape[0] != 4 + nc:
        if out.shape[1] != 4 + nc:
            raise InputError(expected(f"a raw output with 4 + {nc} channels", f"shape {output.shape}", "model output"))
        out = out.T
    if out.shape[0] < 5:
        raise InputError(expected("at least 5 channels (4 box + 1 class)", f"shape {output.shape}", "model output"))
    if out.dtype != np.float32:
        out = out.astype(np.float32)
    return out


def decode(
    output: np.ndarray, *, conf: float = 0.25, max_nms: int = MAX_NMS, nc: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates from a raw output: best class per anchor, score ``> conf``, xyxy in input pixels.

    Args:
        output: the raw network output (see the module docstring for layouts).
        conf: keep anchors whose best class score is strictly greater than this.
        max_nms: keep at most this many candidates, highest scores first.
        nc: the class count, when known: fixes the layout even for outputs with fewer anchors than
            channels (otherwise the longer axis is taken as the anchors).

    Returns:
        ``(boxes, scores, classes)``: float32 ``(M, 4)`` xyxy in network-input pixels, float32 ``(M,)``,
        int64 ``(M,)``, in anchor order (or score order when ``max_nms`` cut them).

    Raises:
        InputError: the output does not have a detection layout.

    Example:
        >>> raw = np.zeros((1, 6, 3), np.float32); raw[0, :4, 1] = [50, 40, 20, 10]; raw[0, 5, 1] = 0.9
        >>> boxes, scores, classes = decode(raw, nc=2)
        >>> boxes.tolist(), classes.tolist()
        ([[40.0, 35.0, 60.0, 45.0]], [1])
    """
    out = _channels_first(output, nc)
    cls_scores = out[4:]
    best = cls_scores.max(axis=0)
    idx = np.flatnonzero(best > conf)
    if idx.size > max_nms:
        order = np.argsort(-best[idx], kind="stable")[:max_nms]
        idx = idx[order]
    scores = best[idx]
    classes = cls_scores[:, idx].argmax(axis=0).astype(np.int64) if idx.size else np.zeros(0, np.int64)
    xywh = out[:4, idx]
    half = xywh[2:] / np.float32(2)
    boxes = np.empty((idx.size, 4), np.float32)
    boxes[:, :2] = (xywh[:2] - half).T
    boxes[:, 2:] = (xywh[:2] + half).T
    return boxes, scores, classes


NMS_BLOCK = 128
"""Block size of :func:`nms` in dense scenes, which it resolves by blocks when boxes overlap in more
than ``NMS_BLOCK * N`` pairs (affects speed and memory only, never the result)."""

_MAX_PAIRS = 1 << 20  # at most this many overlapping pairs are held at once (memory only)

_FIXED_POINT_ROUNDS = 3


@functools.lru_cache(maxsize=8)
def _strict_upper(n: int) -> np.ndarray:
    """Read-only ``(n, n)`` mask of ``i < j`` (its top-left ``m x m`` corner is the mask for ``m``)."""
    mask = np.triu(np.ones((n, n), bool), 1)
    mask.setflags(write=False)
    return mask


def _suppresses(x1, y1, x2, y2, areas, rows: np.ndarray, cols: np.ndarray, iou_threshold: float,
                *, pairwise: bool = False) -> np.ndarray:
    """IoU > threshold, with torchvision's float arithmetic: ``(len(rows), len(cols))`` bool, or
    ``(len(rows),)`` for the pairs ``(rows[k], cols[k])`` when ``pairwise``."""
    r, c = (rows, cols) if pairwise else (rows[:, None], cols[None, :])
    w = np.minimum(x2[r], x2[c])
    w -= np.maximum(x1[r], x1[c])
    np.maximum(w, 0, out=w)
    h = np.minimum(y2[r], y2[c])
    h -= np.maximum(y1[r], y1[c])
    np.maximum(h, 0, out=h)
    w *= h  # the intersection
    h = np.add(areas[r], areas[c])
    h -= w  # the union, summed in torchvision's order: (area_i + area_j) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(w, h, out=w)
    # NaN (0/0 between two empty boxes) compares False: the box is kept, as in torchvision.
    return w > iou_threshold


def _greedy_within(over: np.ndarray) -> np.ndarray:
    """Greedy keep-mask for boxes in score order, given ``over[i, j]`` (i suppresses j) for i < j.

    The greedy answer is the unique fixed point of ``keep[j] = not any(keep[i] and over[i, j])``;
    iterating that equation settles at least one more dependency level per round, which is
    enough for sparse scenes in one to three rounds. Dense clusters form long chains, so after a
    few rounds a scan decides instead, visiting only the boxes it keeps.
    """
    m = over.shape[0]
    keep = np.ones(m, bool)
    for _ in range(_FIXED_POINT_ROUNDS):
        new = ~over[keep].any(axis=0)
        if np.array_equal(new, keep):
            return keep
        keep = new
    keep = np.ones(m, bool)
    i = 0
    while True:
        rest = keep[i + 1 :]
        rest &= ~over[i, i + 1 :]
        j = int(rest.argmax()) if rest.size else 0
        if not rest.size or not rest[j]:
            return keep
        i += 1 + j


def _overlapping_pairs(x1: np.ndarray, x2: np.ndarray, max_pairs: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Every pair of boxes whose x-ranges overlap with positive width, found by a sweep over ``x1``.

    Boxes are sorted by ``x1``; box ``p``'s partners are the later boxes that start before it ends.
    Any pair with a positive intersection is among them (the one that starts later starts inside the
    other). Returns ``(a, b)`` position arrays (unordered pairs, each once), or None when there are
    more than ``max_pairs`` pairs (a dense scene: the caller falls back to blocks).
    """
    sx = np.argsort(x1, kind="stable")
    sx1 = x1[sx]
    ends = np.searchsorted(sx1, x2[sx], side="left")
    counts = np.maximum(ends - np.arange(1, sx.size + 1), 0)
    total = int(counts.sum())
    if total > max_pairs:
        return None
    first = np.repeat(np.arange(sx.size), counts)
    # partner of the k-th pair of box p: p + 1 + (k - index of p's first pair)
    second = first + 1 + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return sx[first], sx[second]


def _greedy_sparse(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    """Greedy keep-mask of ``n`` score-ordered boxes, given the edges ``src[k]`` suppresses ``dst[k]`` (src < dst).

    Same fixed point as :func:`_greedy_within` on an edge list; when a long chain keeps it from
    settling within a few rounds, the sources are visited in order instead (exact either way).
    """
    keep = np.ones(n, bool)
    for _ in range(_FIXED_POINT_ROUNDS + 3):
        new = np.ones(n, bool)
        new[dst[keep[src]]] = False
        if np.array_equal(new, keep):
            return keep
        keep = new
    by_src = np.argsort(src, kind="stable")
    src, dst = src[by_src], dst[by_src]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    bounds = np.r_[starts, src.size].tolist()
    keep = np.ones(n, bool)
    for k, s in enumerate(src[starts].tolist()):
        if keep[s]:
            keep[dst[bounds[k] : bounds[k + 1]]] = False
    return keep


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, *, max_keep: int | None = None, block: int = NMS_BLOCK
) -> np.ndarray:
    """Greedy non-maximum suppression, same decisions as ``torchvision.ops.nms``.

    Boxes are visited in descending score order (stable, so ties keep input order); each kept box
    suppresses every later box whose IoU with it is ``> iou_threshold``. The IoU arithmetic is done
    in the boxes' dtype (float32 in the pipeline) with torchvision's formula, so borderline
    decisions agree bit for bit.

    The IoU is computed only for pairs of boxes whose x-ranges overlap (a sweep; with the
    pipeline's class offsets, boxes of different classes never pair), then the greedy order is
    resolved on that edge list. A dense scene with more than ``block * N`` such pairs (or over a million) is resolved by
    blocks of ``block`` score-ordered boxes instead (see :func:`_nms_blocks`).

    Args:
        boxes: ``(N, 4)`` xyxy boxes.
        scores: ``(N,)`` scores.
        iou_threshold: suppress when IoU is strictly greater than this (in [0, 1]).
        max_keep: keep at most this many (the first ``max_keep`` of the full result, since boxes
            are kept in score order).
        block: the dense-scene bound and block size (speed and memory only, never the result).

    Returns:
        int64 indices of the kept boxes, highest score first.

    Example:
        >>> b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
        >>> nms(b, np.array([0.9, 0.8, 0.7], np.float32), 0.5).tolist()
        [0, 2]
    """
    n = boxes.shape[0]
    limit = n if max_keep is None else min(int(max_keep), n)
    if n == 0 or limit <= 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")
    ordered = boxes[order]
    x1, y1, x2, y2 = (np.ascontiguousarray(ordered[:, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    step = max(int(block), 1)
    pairs = _overlapping_pairs(x1, x2, max(1024, min(step * n, _MAX_PAIRS)))
    if pairs is None:
        return order[_nms_blocks(x1, y1, x2, y2, areas, iou_threshold, limit, step)]
    a, b = pairs
    over = _suppresses(x1, y1, x2, y2, areas, a, b, iou_threshold, pairwise=True)
    a, b = a[over], b[over]
    keep = _greedy_sparse(np.minimum(a, b), np.maximum(a, b), n)
    return order[np.flatnonzero(keep)[:limit]]


def _nms_blocks(x1, y1, x2, y2, areas, iou_threshold: float, limit: int, step: int) -> np.ndarray:
    """Greedy NMS of score-ordered boxes by blocks of ``step``: positions of the first ``limit`` kept.

    A block first loses every box that a box kept in an earlier block suppresses, then the
    survivors are resolved among themselves with one IoU matrix (see :func:`_greedy_within`).
    Work is ``O(N * (kept + step))`` array operations and only ``N / step`` Python-level steps.
    """
    n = x1.shape[0]
    kept = np.zeros(0, np.int64)  # positions in score order
    for start in range(0, n, step):
        cand = np.arange(start, min(start + step, n))
        if kept.size:
            # only kept boxes that intersect the block's extent can suppress anything in it
            near = kept[
                (x1[kept] < x2[cand].max()) & (x2[kept] > x1[cand].min())
                & (y1[kept] < y2[cand].max()) & (y2[kept] > y1[cand].min())
            ]
            if near.size:
                cand = cand[~_suppresses(x1, y1, x2, y2, areas, near, cand, iou_threshold).any(axis=0)]
        if not cand.size:
            continue
        over = _suppresses(x1, y1, x2, y2, areas, cand, cand, iou_threshold)
        over &= _strict_upper(step)[: cand.size, : cand.size]  # only earlier boxes suppress later ones
        kept = np.concatenate([kept, cand[_greedy_within(over)]])
        if kept.size >= limit:
            break
    return kept[:limit]


def unletterbox(boxes: np.ndarray, info: LetterboxInfo) -> np.ndarray:
    """Map xyxy boxes from network-input pixels back to the original image, clipped to it.

    Uses the per-axis gain of the rounded resize (``round(w * scale) / w``), as Ultralytics'
    ``scale_boxes`` does, so boxes land where Ultralytics puts them.

    Args:
        boxes: ``(N, 4)`` xyxy in network-input pixels.
        info: how the image was letterboxed.

    Returns:
        float64 ``(N, 4)`` xyxy in original-image pixels, clipped to ``[0, w] x [0, h]``.

    Example:
        >>> info = LetterboxInfo(scale=0.5, pad_left=0, pad_top=40, orig_height=480, orig_width=640)
        >>> unletterbox(np.array([[10.0, 50.0, 20.0, 60.0]]), info).tolist()
        [[20.0, 20.0, 40.0, 40.0]]
    """
    h, w = info.orig_height, info.orig_width
    gain_x = max(round(w * info.scale), 1) / w
    gain_y = max(round(h * info.scale), 1) / h
    out = np.array(boxes, np.float64)  # a copy: subtract the padding, divide by the gain, clip; per column
    out -= np.array([info.pad_left, info.pad_top, info.pad_left, info.pad_top], np.float64)
    out /= np.array([gain_x, gain_y, gain_x, gain_y])
    np.clip(out, 0.0, np.array([w, h, w, h], np.float64), out=out)
    return out


def postprocess(
    output: np.ndarray,
    info: LetterboxInfo,
    *,
    conf: float = 0.25,
    iou: float = 0.7,
    max_det: int = 300,
    agnostic: bool = False,
    max_nms: int = MAX_NMS,
    nc: int | None = None,
) -> Detections:
    """Raw network output -> final detections in original-image pixels.

    Args:
        output: the raw output ``[1, 4+nc, anchors]`` or ``[1, anchors, 4+nc]``.
        info: the :class:`LetterboxInfo` of the image that produced it.
        conf: keep candidates whose best class score is strictly greater than this.
        iou: NMS suppresses a box whose IoU with a higher-scored kept box of the same class
            (of any class when ``agnostic``) is strictly greater than this.
        max_det: keep at most this many detections.
        agnostic: class-agnostic NMS.
        max_nms: at most this many candidates enter NMS (highest scores).
        nc: the model's class count, when known (fixes the layout, checks the channel count).

    Returns:
        The :class:`Detections`, highest score first.

    Raises:
        InputError: a threshold is out of range or the output is not a detection layout.

    Example:
        >>> raw = np.zeros((1, 6, 2), np.float32)
        >>> raw[0, :, 0] = [50, 40, 20, 10, 0.9, 0.1]; raw[0, :, 1] = [51, 40, 20, 10, 0.8, 0.1]
        >>> info = LetterboxInfo(scale=1.0, pad_left=0, pad_top=0, orig_height=100, orig_width=100)
        >>> det = postprocess(raw, info, nc=2)
        >>> det.boxes.tolist(), det.classes.tolist()
        ([[40.0, 35.0, 60.0, 45.0]], [0])
    """
    check_settings(conf, iou, max_det, max_nms)
    boxes, scores, classes = decode(output, conf=conf, max_nms=max_nms, nc=nc)
    if not scores.size:
        return Detections.empty()
    if agnostic:
        shifted = boxes
    else:
        shifted = boxes + (classes.astype(np.float32) * np.float32(MAX_WH))[:, None]
    keep = nms(shifted, scores, iou, max_keep=max_det)
    return Detections(
        boxes=unletterbox(boxes[keep], info),
        scores=scores[keep].astype(np.float64),
        classes=classes[keep],
    )
