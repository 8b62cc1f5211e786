"""Greedy COCO matching of all images and categories at once (pycocotools' ``evaluateImg``, vectorized).

pycocotools visits every (image, category, area range) in Python and, inside, every IoU
threshold, detection and ground truth. The rule it applies per detection (highest score
first) is: among ground truths that are still free (crowd regions never fill up) and
overlap at least ``min(t, 1 - 1e-10)``, take a regular one if any, else an ignored one
(crowd, or area outside the range); among those the highest IoU; among equal IoUs the last
in file order. Here that rule is evaluated for every threshold and area range at once, in
"rounds": round ``r`` handles, in every (image, category) group simultaneously, the
``r``-th highest-scoring detection that has any candidate at all. Groups share nothing, so
a round has no conflicts; the number of rounds is the largest number of overlapping
detections in one group, not the number of images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import InputError, expected

__all__ = ["Matching", "match_all", "pair_box_iou"]


@dataclass(frozen=True)
class Matching:
    """Per-detection outcome of matching (detections kept = the top ``max_dets[-1]`` per image
    and category), ordered by (image, category, descending score).

    Attributes:
        dt_row: row of each kept detection in the :class:`CocoDetections`.
        img: image row; ``cat``: category row; ``score``; ``rank`` within its (image, category).
        tp: bool ``(A, T, n)`` true positive per area range and IoU threshold.
        fp: bool ``(A, T, n)`` false positive (neither means ignored).
        match_gt: int ``(T, n)`` ground-truth row matched for area range 0 ('all'), -1 if none.
        match_iou: ``(T, n)`` IoU of that match, 0 if none.
        best_iou: ``(n,)`` highest IoU with any non-crowd ground truth of the same image and class.
        best_gt: ``(n,)`` that ground truth's row, -1 if none overlaps.
        gt_ignore: bool ``(A, G)`` ground truths that are ignored per area range.
    """

    dt_row: np.ndarray
    img: np.ndarray
    cat: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    match_gt: np.ndarray
    match_iou: np.ndarray
    best_iou: np.ndarray
    best_gt: np.ndarray
    gt_ignore: np.ndarray


def pair_box_iou(db: np.ndarray, gb: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of xywh box pairs with pycocotools' exact float operations (``bbIou`` in maskApi.c).

    A crowd ground truth's IoU is intersection over the detection's area.

    Example:
        >>> pair_box_iou(np.array([[0., 0, 2, 2]]), np.array([[1., 1, 2, 2]]), np.array([False]))
        array([0.14285714])
    """
    w = np.minimum(db[:, 2] + db[:, 0], gb[:, 2] + gb[:, 0]) - np.maximum(db[:, 0], gb[:, 0])
    h = np.minimum(db[:, 3] + db[:, 1], gb[:, 3] + gb[:, 1]) - np.maximum(db[:, 1], gb[:, 1])
    inter = w * h
    da = db[:, 2] * db[:, 3]
    union = np.where(crowd, da, da + gb[:, 2] * gb[:, 3] - inter)
    out = np.zeros(len(w))
    np.divide(inter, union, out=out, where=(w > 0) & (h > 0))
    return out


def _group_pairs(d_key: np.ndarray, g_key_sorted: np.ndarray, g_order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.searchsorted(g_key_sorted, d_key, side="left")
    cnt = np.searchsorted(g_key_sorted, d_key, side="right") - lo
    pd = np.repeat(np.arange(len(d_key)), cnt)
    starts = np.cumsum(cnt) - cnt
    pg = g_order[np.repeat(lo - starts, cnt) + np.arange(len(pd))]
    return pd, pg


def match_all(gt, dt, d_img: np.ndarray, d_cat: np.ndarray, params, iou_type: str) -> Matching:
    """Match every detection of ``dt`` (rows already linked to ``gt``'s images and categories).

    Args:
        gt: :class:`~harness.metrics.coco_io.CocoGroundTruth`.
        dt: :class:`~harness.metrics.coco_io.CocoDetections`.
        d_img: image row of each detection; ``d_cat``: category row.
        params: :class:`~harness.metrics.coco.CocoParams`.
        iou_type: ``"bbox"`` or ``"segm"``.
    """
    K = len(gt.category_ids)
    thr = np.minimum(np.asarray(params.iou_thresholds, np.float64), 1 - 1e-10)
    T, A = len(thr), len(params.area_ranges)
    max_det = int(params.max_dets[-1])
    lo_a = np.array([a[0] for a in params.area_ranges], np.float64)[:, None]
    hi_a = np.array([a[1] for a in params.area_ranges], np.float64)[:, None]

    # detections: stable sort by (image, category), then descending score, then input order
    d_key = d_img * K + d_cat
    order = np.lexsort((-dt.scores, d_key))  # stable: equal scores keep input order
    sk = d_key[order]
    new_group = np.ones(len(sk), bool)
    new_group[1:] = sk[1:] != sk[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(sk)), 0))
    rank_sorted = np.arange(len(sk)) - group_start
    keep = rank_sorted < max_det
    rows = order[keep]
    rank = rank_sorted[keep]
    n = len(rows)
    key = d_key[rows]

    # ground truth, file order within each (image, category)
    g_key = gt.image_index * K + gt.category_index
    g_order = np.argsort(g_key, kind="stable")
    pd, pg = _group_pairs(key, g_key[g_order], g_order)
    crowd = gt.iscrowd
    if iou_type == "segm":
        from harness.metrics.segm import pair_mask_iou, to_rles

        iou = _segm_pair_iou(gt, dt, rows, pd, pg, to_rles, pair_mask_iou)
    else:
        iou = pair_box_iou(dt.boxes[rows[pd]], gt.boxes[pg], crowd[pg])

    best_iou = np.zeros(n)
    best_gt = np.full(n, -1, np.int64)
    nc = ~crowd[pg] & (iou > 0)
    if nc.any():
        o = np.lexsort((iou[nc], pd[nc]))  # per detection, highest IoU last
        d_sorted = pd[nc][o]
        last = np.ones(len(o), bool)
        last[:-1] = d_sorted[1:] != d_sorted[:-1]
        best_iou[d_sorted[last]] = iou[nc][o][last]
        best_gt[d_sorted[last]] = pg[nc][o][last]

    gt_ignore = crowd[None, :] | (gt.areas[None, :] < lo_a) | (gt.areas[None, :] > hi_a)
    d_area = dt.areas[rows]
    d_out = (d_area[None, :] < lo_a) | (d_area[None, :] > hi_a)  # (A, n)

    cand = iou >= thr.min() if T else np.zeros(len(iou), bool)
    cd, cg, ciou = pd[cand], pg[cand], iou[cand]
    match_gt = np.full((T, n), -1, np.int64)
    match_iou = np.zeros((T, n))
    tp = np.zeros((A, T, n), bool)
    fp = np.broadcast_to(~d_out[:, None, :], (A, T, n)).copy()
    if len(cd):
        ud, slot = np.unique(cd, return_inverse=True)
        g_of = key[ud]
        first = np.ones(len(ud), bool)
        first[1:] = g_of[1:] != g_of[:-1]
        rnd = np.arange(len(ud)) - np.maximum.accumulate(np.where(first, np.arange(len(ud)), 0))
        o = np.lexsort((cg, ciou, cd, rnd[slot]))
        cd, cg, ciou, slot = cd[o], cg[o], ciou[o], slot[o]
        m = _rounds(rnd[slot], slot, cg, ciou, thr, gt_ignore, crowd, len(ud), gt.iscrowd.shape[0])
        matched = m >= 0
        mc = np.maximum(m, 0)
        gi = gt_ignore[np.arange(A)[None, :, None], mc]
        tp[:, :, ud] = (matched & ~gi).transpose(1, 0, 2)
        fp[:, :, ud] = (~matched & ~d_out[None, :, ud]).transpose(1, 0, 2)
        match_gt[:, ud] = m[:, 0, :]
        if A:
            # IoU of the area-'all' match: look the pair up in the (detection, gt) candidate list
            cand_key = cd * (len(crowd) + 1) + cg
            srt = np.argsort(cand_key)
            want = ud[None, :] * (len(crowd) + 1) + mc[:, 0, :]
            pos = srt[np.minimum(np.searchsorted(cand_key[srt], want), len(srt) - 1)]
            match_iou[:, ud] = np.where(matched[:, 0, :], ciou[pos], 0.0)
    return Matching(rows, d_img[rows], d_cat[rows], dt.scores[rows], rank, tp, fp, match_gt, match_iou, best_iou, best_gt, gt_ignore)


def _rounds(rnd: np.ndarray, slot: np.ndarray, cg: np.ndarray, ciou: np.ndarray, thr: np.ndarray,
            gt_ignore: np.ndarray, crowd: np.ndarray, n_slots: int, n_gt: int) -> np.ndarray:
    """Run the greedy rounds; returns the matched gt row ``(T, A, n_slots)`` or -1."""
    T, A = len(thr), gt_ignore.shape[0]
    out = np.full((T, A, n_slots), -1, np.int64)
    taken = np.zeros((T, A, n_gt), bool)
    eligible = ciou[None, :] >= thr[:, None]  # (T, P)
    regular = (~gt_ignore[:, cg]).astype(np.int32)  # (A, P)
    free_always = crowd[cg]
    bounds = np.flatnonzero(np.diff(rnd, prepend=-1, append=rnd[-1] + 1 if len(rnd) else 1))
    for b0, b1 in zip(bounds[:-1], bounds[1:]):
        s = slot[b0:b1]
        g = cg[b0:b1]
        starts = np.flatnonzero(np.diff(s, prepend=-1))
        seg_len = np.diff(np.append(starts, len(s)))
        pos = (np.arange(len(s)) - np.repeat(starts, seg_len) + 1).astype(np.int32)
        big = np.int32(seg_len.max() + 1)
        if b0 == 0:  # first round: nothing is taken yet
            ok = np.broadcast_to(eligible[:, None, b0:b1], (T, A, b1 - b0))
        else:
            ok = eligible[:, None, b0:b1] & ~(taken[:, :, g] & ~free_always[b0:b1])
        key = np.where(ok, pos + regular[None, :, b0:b1] * big, np.int32(0))
        best = np.maximum.reduceat(key, starts, axis=2)
        has = best > 0
        local = starts[None, None, :] + (best % big - 1)
        g_sel = np.where(has, g[np.where(has, local, 0)], -1)
        out[:, :, s[starts]] = g_sel
        ti, ai, ji = np.nonzero(has)
        taken[ti, ai, g_sel[ti, ai, ji]] = True
    return out


def _segm_pair_iou(gt, dt, rows, pd, pg, to_rles, pair_mask_iou) -> np.ndarray:
    if len(pd) == 0:
        return np.zeros(0)
    used_g = np.unique(pg)
    used_d = np.unique(pd)
    g_sizes = gt.image_sizes[gt.image_index[used_g]]
    g_rles = to_rles([gt.segmentations[i] for i in used_g], g_sizes, gt.source)
    img_of_d = gt.image_index[pg[np.searchsorted(pd, used_d)]]
    d_rles = to_rles([dt.segmentations[rows[i]] for i in used_d], gt.image_sizes[img_of_d], dt.source)
    gpos = np.searchsorted(used_g, pg)
    dpos = np.searchsorted(used_d, pd)
    sizes_g = np.array([r["size"] for r in g_rles]).reshape(-1, 2)
    sizes_d = np.array([r["size"] for r in d_rles]).reshape(-1, 2)
    mismatch = (sizes_g[gpos] != sizes_d[dpos]).any(axis=1)
    if mismatch.any():
        j = int(np.flatnonzero(mismatch)[0])
        raise InputError(expected(f"a mask of size {sizes_g[gpos[j]].tolist()} like its image's ground truth",
                                  sizes_d[dpos[j]].tolist(), f"{dt.source} record {int(rows[pd[j]])}"))
    return pair_mask_iou(d_rles, g_rles, dpos, gpos, gt.iscrowd[used_g])
