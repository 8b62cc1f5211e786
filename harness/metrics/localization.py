"""Localization analysis: how good the boxes are, beyond what mAP says.

Definitions (IoU threshold ``t``, default 0.5; operating confidence ``conf``, default 0):

* **true positives** are the matches of the COCO greedy rule at ``t`` (per class, highest
  score first, crowd regions ignored), among detections with score >= ``conf``, with no cap
  on detections per image;
* **mean TP IoU**: mean IoU of those matches, overall, per image and per class;
* **IoU histogram**: the TP IoUs in ``bins`` equal bins from ``t`` to 1;
* **tight-box rate**: share of TPs with IoU >= 0.9, and >= 0.95;
* **top false positives**: the highest-scoring unmatched detections, each with its best IoU
  with any ground truth of its class in its image (a near miss vs. a hallucination);
* **score/IoU correlation**: Pearson and Spearman (average ranks for ties) correlation between
  each detection's score and its best same-class IoU (0 when it overlaps nothing);
* **IoU-aware re-scoring**: mAP@[.50:.95] and AP50 when detections are re-ranked by
  ``p^a * IoU_truth^(1-a)`` for each ``a`` (``IoU_truth`` = best same-class IoU, ``p`` the
  score clipped at 0), using every detection regardless of ``conf``. ``a = 1`` is the
  detector's own ranking; ``a = 0`` ranks purely by true localization quality, so the gap
  is the AP a perfectly localization-aware confidence would recover.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from harness.metrics.coco import CocoParams, evaluate_coco, match_coco

__all__ = ["FalsePositive", "LocalizationReport", "localization_analysis"]

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class FalsePositive:
    """One high-confidence false positive."""

    image_id: object
    category_id: int
    score: float
    best_iou: float


@dataclass(frozen=True)
class LocalizationReport:
    """The localization analysis (see the module docstring for every definition).

    Attributes:
        iou_threshold: ``t``.
        conf: operating confidence.
        n_tp: number of true positives.
        mean_tp_iou: mean IoU of true positives (NaN if none).
        per_image_iou: ``(I,)`` mean TP IoU per image in ``image_ids`` order (NaN: no TP).
        per_class_iou: category name -> mean TP IoU (NaN: no TP).
        histogram: ``(bins,)`` TP counts; ``bin_edges`` ``(bins + 1,)``.
        tight_90: share of TPs with IoU >= 0.9; ``tight_95`` with IoU >= 0.95.
        top_false_positives: highest-scoring false positives.
        pearson: score/IoU Pearson correlation; ``spearman`` rank correlation; ``n_correlated`` points.
        rescoring: ``(a, mAP@[.50:.95], AP50)`` per re-scoring exponent.
        image_ids: the images.
    """

    iou_threshold: float
    conf: float
    n_tp: int
    mean_tp_iou: float
    per_image_iou: np.ndarray
    per_class_iou: dict
    histogram: np.ndarray
    bin_edges: np.ndarray
    tight_90: float
    tight_95: float
    top_false_positives: tuple
    pearson: float
    spearman: float
    n_correlated: int
    rescoring: tuple
    image_ids: tuple

    def to_dict(self) -> dict:
        """JSON-ready summary (NaN becomes None; per-image values summarized by quantiles)."""
        pi = self.per_image_iou[np.isfinite(self.per_image_iou)]
        q = np.quantile(pi, [0.1, 0.5, 0.9]).tolist() if pi.size else [None] * 3
        return {
            "iou_threshold": self.iou_threshold,
            "conf": self.conf,
            "n_tp": self.n_tp,
            "mean_tp_iou": _clean(self.mean_tp_iou),
            "per_image_mean_iou": {"n_images": int(pi.size), "mean": _clean(pi.mean()) if pi.size else None,
                                   "p10": q[0], "median": q[1], "p90": q[2]},
            "per_class_mean_iou": {k: _clean(v) for k, v in self.per_class_iou.items()},
            "iou_histogram": {"edges": self.bin_edges.tolist(), "counts": self.histogram.tolist()},
            "tight_box_rate_90": _clean(self.tight_90),
            "tight_box_rate_95": _clean(self.tight_95),
            "top_false_positives": [
                {"image_id": fp.image_id, "category_id": fp.category_id, "score": fp.score, "best_iou": fp.best_iou}
                for fp in self.top_false_positives
            ],
            "score_iou_pearson": _clean(self.pearson),
            "score_iou_spearman": _clean(self.spearman),
            "rescoring": [{"alpha": a, "map50_95": _clean(m), "map50": _clean(m50)} for a, m, m50 in self.rescoring],
        }


def _clean(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    first = np.ones(len(x), bool)
    first[1:] = xs[1:] != xs[:-1]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(x))
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    out = np.empty(len(x))
    out[order] = avg[group]
    return out


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2:
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    den = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / den) if den > 0 else float("nan")


def localization_analysis(
    gt: object,
    dt: object,
    *,
    conf: float = 0.0,
    iou_threshold: float = 0.5,
    iou_type: str = "bbox",
    alphas: tuple = ALPHAS,
    top_k: int = 10,
    bins: int = 10,
) -> LocalizationReport:
    """Run the localization analysis.

    Args:
        gt: ground truth as :func:`~harness.metrics.evaluate_coco` takes it.
        dt: detections likewise.
        conf: operating confidence for the TP/FP statistics (re-scoring uses all detections).
        iou_threshold: ``t``, the IoU that makes a match.
        iou_type: ``"bbox"`` or ``"segm"``.
        alphas: re-scoring exponents (empty: skip the re-scoring, which costs one COCO
            evaluation per exponent).
        top_k: how many false positives to list.
        bins: histogram bins.

    Returns:
        A :class:`LocalizationReport`.

    Example:
        >>> from harness.metrics import CocoDetections, CocoGroundTruth
        >>> gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 10.], [20, 20, 30, 30]])], [np.array([0, 0])])
        >>> dt = CocoDetections.from_arrays([np.array([[0, 0, 10, 9.5], [20, 20, 30, 36], [0, 0, 5, 5]])],
        ...                                 [np.array([0.9, 0.8, 0.7])], [np.array([0, 0, 0])])
        >>> r = localization_analysis(gt, dt, alphas=())
        >>> r.n_tp, round(r.mean_tp_iou, 4), r.tight_90, r.top_false_positives[0].best_iou
        (2, 0.7875, 0.5, 0.25)
    """
    params = CocoParams(iou_thresholds=(float(iou_threshold),), max_dets=(10**9,),
                        area_ranges=((0.0, float("inf")),), area_labels=("all",))
    g, d, m = match_coco(gt, dt, iou_type, params)
    n_img, K = len(g.image_ids), len(g.category_ids)
    use = m.score >= conf
    tp = m.tp[0, 0] & use
    fp = m.fp[0, 0] & use
    tp_iou = m.match_iou[0][tp]
    n_tp = int(tp.sum())
    mean_iou = float(tp_iou.mean()) if n_tp else float("nan")

    def group_mean(keys: np.ndarray, n: int) -> np.ndarray:
        cnt = np.bincount(keys, minlength=n)
        out = np.full(n, np.nan)
        np.divide(np.bincount(keys, weights=tp_iou, minlength=n), cnt, out=out, where=cnt > 0)
        return out

    per_image = group_mean(m.img[tp], n_img)
    per_class = dict(zip(g.category_names, group_mean(m.cat[tp], K).tolist()))
    edges = np.linspace(float(iou_threshold), 1.0, bins + 1)
    hist = np.histogram(tp_iou, bins=edges)[0]
    tight90 = float((tp_iou >= 0.9).mean()) if n_tp else float("nan")
    tight95 = float((tp_iou >= 0.95).mean()) if n_tp else float("nan")

    fp_idx = np.flatnonzero(fp)
    fp_idx = fp_idx[np.argsort(-m.score[fp_idx], kind="stable")][:top_k]
    top = tuple(
        FalsePositive(g.image_ids[m.img[i]], int(g.category_ids[m.cat[i]]), float(m.score[i]), float(m.best_iou[i]))
        for i in fp_idx
    )
    s, b = m.score[use], m.best_iou[use]
    pearson = _pearson(s, b)
    spearman = _pearson(_ranks(s), _ranks(b)) if len(s) >= 2 else float("nan")

    rescoring = []
    if alphas:
        p = np.clip(d.scores, 0.0, None)
        truth = np.zeros(len(d))
        truth[m.dt_row] = m.best_iou
        for a in alphas:
            new = p ** float(a) * truth ** (1.0 - float(a))
            r = evaluate_coco(g, dataclasses.replace(d, scores=new), iou_type)
            rescoring.append((float(a), float(r.stats[0]), float(r.stats[1])))
    return LocalizationReport(
        float(iou_threshold), float(conf), n_tp, mean_iou, per_image, per_class, hist, edges,
        tight90, tight95, top, pearson, spearman, int(len(s)), tuple(rescoring), g.image_ids,
    )
