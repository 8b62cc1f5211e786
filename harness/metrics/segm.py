"""Instance masks for ``segm`` evaluation: polygons and RLE to run lengths, areas and pair IoU.

pycocotools' mask API is the reference rasterizer: polygons and uncompressed RLE are turned
into compressed RLE with ``frPyObjects`` / ``merge`` exactly as ``COCO.annToRLE`` does
(imported lazily, only here). Everything after that is this project's own: the compressed
counts are decoded to run lengths, runs of ones become intervals of the column-major pixel
index, and the intersection of two masks is measured from those intervals, vectorized over
all (detection, ground truth) pairs. IoU is ``i / (a_dt + a_gt - i)``, or ``i / a_dt`` for a
crowd region, the same integers and the same division as pycocotools' ``rleIou``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.errors import InputError, expected, require

__all__ = ["mask_areas", "pair_mask_iou", "rle_counts", "segmentation_kind", "to_rles"]


def _coco_mask():
    return require("pycocotools.mask", pip="pip install pycocotools")


def segmentation_kind(s: object) -> str:
    """Classify a COCO segmentation: ``"ok:polygons"``, ``"ok:rle"``, ``"ok:uncompressed-rle"``,
    or a short description of what is wrong with it.

    Example:
        >>> segmentation_kind([[0, 0, 4, 0, 4, 4]]), segmentation_kind("x")
        ('ok:polygons', "str 'x'")
    """
    if isinstance(s, list):
        if not s:
            return "an empty polygon list"
        for poly in s:
            if not isinstance(poly, list) or len(poly) < 4 or len(poly) % 2:
                return "a polygon that is not a flat list of x, y pairs"
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in poly):
                return "a polygon with a non-numeric or non-finite coordinate"
        return "ok:polygons"
    if isinstance(s, dict):
        size, counts = s.get("size"), s.get("counts")
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size)):
            return "an RLE without a [height, width] 'size'"
        if isinstance(counts, (str, bytes)):
            return "ok:rle"
        if isinstance(counts, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts):
            if sum(counts) != size[0] * size[1]:
                return f"an RLE whose counts sum to {sum(counts)}, not height*width {size[0] * size[1]}"
            return "ok:uncompressed-rle"
        return "an RLE whose 'counts' is neither a string nor a list of non-negative integers"
    return f"{type(s).__name__} {s!r}"


def to_rles(segms: Sequence, sizes: Sequence, where: str) -> list:
    """Turn each segmentation into a compressed RLE, as pycocotools' ``COCO.annToRLE``.

    Args:
        segms: polygons or RLE dicts (validated by :func:`segmentation_kind`).
        sizes: per segmentation the image ``(width, height)``; 0s mean unknown.
        where: names the source in messages.

    Returns:
        A list of ``{"size": [h, w], "counts": bytes}``.

    Raises:
        InputError: a polygon on an image of unknown size, or an RLE whose size
            differs from its image's.
    """
    mask = _coco_mask()
    out = []
    for i, (s, (w, h)) in enumerate(zip(segms, sizes)):
        w, h = int(w), int(h)
        if isinstance(s, list):
            if w <= 0 or h <= 0:
                raise InputError(expected("image width and height for a polygon segmentation", "none", f"{where} record {i}"))
            out.append(mask.merge(mask.frPyObjects(s, h, w)))
            continue
        if w > 0 and h > 0 and list(s["size"]) != [h, w]:
            raise InputError(expected(f"an RLE of the image size [height, width] = [{h}, {w}]", s["size"], f"{where} record {i}"))
        if isinstance(s["counts"], list):
            out.append(mask.frPyObjects(s, *s["size"]))
        else:
            counts = s["counts"].encode("ascii") if isinstance(s["counts"], str) else s["counts"]
            out.append({"size": list(s["size"]), "counts": counts})
    return out


def rle_counts(rle: dict) -> np.ndarray:
    """Decode a compressed COCO RLE string into its run lengths (zeros first).

    Example:
        >>> rle_counts({"size": [5, 4], "counts": b"52305"}).tolist()
        [5, 2, 3, 2, 8]
    """
    s = rle["counts"]
    s = s.encode("ascii") if isinstance(s, str) else s
    counts: list[int] = []
    p, n = 0, len(s)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            c = s[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return np.asarray(counts, np.int64)


def _intervals(rle: dict) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of ones, in column-major pixel index."""
    c = rle_counts(rle)
    edges = np.cumsum(c)
    starts, ends = edges[0::2], edges[1::2]
    n = len(ends)
    keep = ends > starts[:n]
    return starts[:n][keep], ends[keep]


def mask_areas(segms: Sequence, sizes: Sequence | None, where: str) -> np.ndarray:
    """Pixel area of each segmentation (``sizes`` as in :func:`to_rles`; None: RLEs only).

    Example:
        >>> mask_areas([[[10, 10, 20, 10, 20, 30, 10, 30]]], [(40, 50)], "gt").tolist()
        [200.0]
    """
    if sizes is None:
        for i, s in enumerate(segms):
            if not isinstance(s, dict):
                raise InputError(expected("an RLE segmentation (or a 'bbox' to take the area from)", "polygons", f"{where} record {i}"))
        sizes = [(0, 0)] * len(segms)
    rles = to_rles(segms, sizes, where)
    return np.asarray([float(sum((e - s).sum() for s, e in [_intervals(r)])) for r in rles], np.float64)


def pair_mask_iou(
    dt_rles: Sequence[dict],
    gt_rles: Sequence[dict],
    pair_d: np.ndarray,
    pair_g: np.ndarray,
    gt_crowd: np.ndarray,
) -> np.ndarray:
    """Mask IoU of each (detection, ground truth) pair, vectorized over pairs.

    Args:
        dt_rles: compressed RLE of each detection.
        gt_rles: compressed RLE of each ground-truth object.
        pair_d: int ``(P,)`` detection row of each pair.
        pair_g: int ``(P,)`` ground-truth row of each pair.
        gt_crowd: bool per ground truth; a crowd pair's IoU is ``i / a_dt``.

    Returns:
        float64 ``(P,)`` IoU.
    """
    pair_d = np.asarray(pair_d, np.int64)
    pair_g = np.asarray(pair_g, np.int64)
    if len(pair_d) == 0:
        return np.zeros(0)
    used_g, g_local = np.unique(pair_g, return_inverse=True)
    used_d, d_local = np.unique(pair_d, return_inverse=True)
    g_iv = [_intervals(gt_rles[g]) for g in used_g]
    d_iv = [_intervals(dt_rles[d]) for d in used_d]
    span = 1 + max(int(np.prod(r["size"])) for r in [gt_rles[g] for g in used_g] + [dt_rles[d] for d in used_d])
    g_len = np.array([len(s) for s, _ in g_iv], np.int64)
    owner = np.repeat(np.arange(len(g_iv)), g_len)
    gs = np.concatenate([s for s, _ in g_iv] + [np.zeros(0, np.int64)]) + owner * span
    ge = np.concatenate([e for _, e in g_iv] + [np.zeros(0, np.int64)]) + owner * span
    cum = np.concatenate(([0], np.cumsum(ge - gs)))  # measure before each interval
    g_area = np.array([(e - s).sum() for s, e in g_iv], np.int64)
    d_area = np.array([(e - s).sum() for s, e in d_iv], np.int64)
    d_len = np.array([len(s) for s, _ in d_iv], np.int64)
    d_start = np.concatenate(([0], np.cumsum(d_len)))
    ds_all = np.concatenate([s for s, _ in d_iv] + [np.zeros(0, np.int64)])
    de_all = np.concatenate([e for _, e in d_iv] + [np.zeros(0, np.int64)])
    # every interval of each pair's detection, shifted into its ground truth's slot
    n_pts = d_len[d_local]
    pt_pair = np.repeat(np.arange(len(pair_d)), n_pts)
    first = np.repeat(d_start[d_local] - np.concatenate(([0], np.cumsum(n_pts)[:-1])), n_pts)
    row = np.arange(len(pt_pair)) + first
    shift = g_local[pt_pair] * span

    def measure(x: np.ndarray) -> np.ndarray:
        k = np.searchsorted(gs, x, side="right") - 1
        kc = np.maximum(k, 0)
        inside = np.minimum(x, ge[kc]) - gs[kc] if len(gs) else np.zeros_like(x)
        return np.where(k >= 0, cum[kc] + np.maximum(inside, 0), 0) if len(gs) else np.zeros_like(x)

    covered = measure(de_all[row] + shift) - measure(ds_all[row] + shift)
    inter = np.bincount(pt_pair, weights=covered, minlength=len(pair_d))
    da = d_area[d_local].astype(np.float64)
    ga = g_area[g_local].astype(np.float64)
    union = np.where(np.asarray(gt_crowd, bool)[pair_g], da, da + ga - inter)
    out = np.zeros(len(pair_d))
    np.divide(inter, union, out=out, where=inter > 0)
    return out
