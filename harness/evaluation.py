"""Aggregate: turn each variant's stored detections into the record's accuracy, drops and agreement.

Definitions live in :mod:`harness.scorer` (and the README); this module only applies them to every
variant of a run, with the FP32 variant as the reference. With ground truth, each variant's accuracy
also carries ``yolo_val`` (:mod:`harness.metrics.yolo_val`: the detection confusion matrix, P/R/F1
curves, the F1-optimal confidence and the per-class table, as ``yolo val`` shows them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from harness.scorer import Agreement, OperatingPoint, agreement, coco_inputs, operating_point


@dataclass(frozen=True)
class Scored:
    """Everything the scorer found for one variant (record-ready dicts plus the raw pieces)."""

    accuracy: dict | None
    vs_reference: dict | None
    localization: dict | None
    per_frame_iou: np.ndarray | None
    op: OperatingPoint | None
    agreement: Agreement | None
    coco: object | None


def _pts(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def _defined(stat: float) -> float | None:
    """pycocotools writes -1 for an undefined statistic; the record keeps null for it."""
    return None if stat is None or stat < 0 else float(stat)


def score_variants(data, outcomes: Mapping, *, reference: str = "fp32", operating_conf: float = 0.25,
                   bootstrap: int = 200, seed: int = 0) -> dict[str, Scored]:
    """Score every variant that ran; variants that did not run get no entry.

    Args:
        data: the run's :class:`harness.runloop.ScoredData`.
        outcomes: variant name -> :class:`harness.worker.Outcome`.
        reference: the variant the drops and agreement are measured against.
        operating_conf: confidence of the operating point.
        bootstrap: resamples for the ΔmAP confidence interval (0: no interval).
        seed: bootstrap seed.
    """
    from harness.metrics import evaluate_coco, localization_analysis
    from harness.metrics.yolo_val import yolo_val_summary

    ran = {name: o for name, o in outcomes.items() if o.status == "ok" and o.detections is not None}
    ref = ran.get(reference)
    scored: dict[str, Scored] = {}
    for name, o in ran.items():
        acc = loc = per_frame = op = None
        coco = None
        if data.truth is not None:
            gt_cols, dt_cols = coco_inputs(data.truth, o.detections, data.names)
            coco = evaluate_coco(gt_cols, dt_cols, iou_type="bbox")
            op = operating_point(data.truth, o.detections, conf=operating_conf)
            stats = [float(s) for s in coco.stats]
            acc = {
                "map50_95": _defined(stats[0]), "map50": _defined(stats[1]), "coco_stats": stats,
                "precision": op.precision, "recall": op.recall, "f1": op.f1,
                "avg_iou_per_frame": op.avg_iou_per_frame, "mean_tp_iou": op.mean_tp_iou,
                "per_class_ap": {k: _defined(v) for k, v in coco.per_class_ap().items()},
                "yolo_val": yolo_val_summary(data.truth, o.detections, data.names, coco=coco),
            }
            per_frame = op.per_frame_iou()
            loc = localization_analysis(gt_cols, dt_cols, conf=operating_conf).to_dict()
        scored[name] = Scored(acc, None, loc, per_frame, op, None, coco)
    if ref is None:
        return scored
    for name, s in list(scored.items()):
        o = ran[name]
        agr = agreement(ref.detections, o.detections, conf=operating_conf)
        vs = {"reference": reference, "agreement_mean_iou": agr.mean_iou, "agreement_recall": agr.recall}
        vs.update(map_drop(scored[reference], s, bootstrap=0 if name == reference else bootstrap, seed=seed))
        ref_acc = scored[reference].accuracy
        if "map_drop_points" in vs and ref_acc["avg_iou_per_frame"] is not None \
                and s.accuracy["avg_iou_per_frame"] is not None:
            vs["iou_drop"] = ref_acc["avg_iou_per_frame"] - s.accuracy["avg_iou_per_frame"]
        scored[name] = Scored(s.accuracy, vs, s.localization, s.per_frame_iou, s.op, agr, s.coco)
    return scored


def map_drop(reference: Scored, variant: Scored, *, bootstrap: int = 200, seed: int = 0) -> dict:
    """The mAP50-95 drop of ``variant`` against ``reference``, both scored on the same images.

    Returns ``{"map_drop_points", "map_pct_of_reference"[, "map_drop_ci95"]}`` (points = x100,
    positive = worse; the interval from a paired bootstrap over images, the same resamples for
    both), or ``{}`` when either has no mAP (no ground truth). Used for every variant against
    FP32, and for a distilled student against the same-size plain model's and the teacher's FP32.
    """
    from harness.metrics import bootstrap_map_drop

    ref_acc, acc = reference.accuracy, variant.accuracy
    if ref_acc is None or acc is None or ref_acc["map50_95"] is None or acc["map50_95"] is None:
        return {}
    out = {"map_drop_points": _pts(ref_acc["map50_95"] - acc["map50_95"]),
           "map_pct_of_reference": 100.0 * acc["map50_95"] / ref_acc["map50_95"] if ref_acc["map50_95"] > 0 else None}
    if bootstrap > 0:
        ci = bootstrap_map_drop(reference.coco, variant.coco, n_resamples=bootstrap, seed=seed)
        if ci.n_resamples:
            out["map_drop_ci95"] = [_pts(ci.low), _pts(ci.high)]
    return out
