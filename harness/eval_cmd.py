"""``bench eval``: score a prediction file (or folder) against ground truth.

Formats: COCO (ground-truth JSON + results JSON), YOLO (label folders, predictions with a
confidence column, image sizes from the images), voc-text (one file per image, absolute
``left top width height`` boxes). Prints the 12 COCO stats, VOC AP at ``--iou-threshold``,
the mean matched IoU and tight-box rate, and AP per class; ``--json`` prints one JSON object
with the same numbers at full precision instead.

Example::

    bench eval --gt instances_val.json --pred results.json
    bench eval --format yolo --gt data/labels/val --pred runs/predict/labels --json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from common.errors import InputError, expected

JSON_SCHEMA = "bench.eval/1"

STAT_LABELS = (
    ("AP", "AP @[.50:.95] all"),
    ("AP50", "AP @.50"),
    ("AP75", "AP @.75"),
    ("APs", "AP small"),
    ("APm", "AP medium"),
    ("APl", "AP large"),
    ("AR1", "AR maxDets=1"),
    ("AR10", "AR maxDets=10"),
    ("AR100", "AR maxDets=100"),
    ("ARs", "AR small"),
    ("ARm", "AR medium"),
    ("ARl", "AR large"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bench eval``."""
    parser.add_argument("--gt", required=True, type=Path, help="ground truth: COCO JSON file, or a folder of .txt files")
    parser.add_argument("--pred", required=True, type=Path, help="predictions: COCO results JSON, or a folder of .txt files")
    parser.add_argument("--format", choices=("coco", "yolo", "voc-text"), default="coco", help="input format (default coco)")
    parser.add_argument("--iou-type", choices=("bbox", "segm"), default="bbox", help="boxes or masks (segm: COCO only)")
    parser.add_argument("--iou-threshold", type=float, default=0.5, help="IoU for VOC AP and the localization numbers (default 0.5)")
    parser.add_argument("--voc-method", choices=("all_points", "11_point"), default="all_points", help="VOC interpolation")
    parser.add_argument("--images", type=Path, help="YOLO: the images folder (for image sizes)")
    parser.add_argument("--data", type=Path, help="YOLO: data.yaml (class names, images folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def _load(args: argparse.Namespace):
    from harness.metrics.coco_io import CocoDetections, CocoGroundTruth, load_json

    if args.format == "coco":
        gt = CocoGroundTruth.from_coco(load_json(args.gt), iou_type=args.iou_type, source=str(args.gt))
        dt = CocoDetections.from_coco(load_json(args.pred), iou_type=args.iou_type, source=str(args.pred))
        return gt, dt
    if args.iou_type != "bbox":
        raise InputError(expected("--iou-type bbox for text formats (masks need COCO JSON)", args.iou_type, "--iou-type"))
    from harness.metrics.folders import read_voc_text_folders, read_yolo_folders

    if args.format == "yolo":
        return read_yolo_folders(args.gt, args.pred, images=args.images, data_yaml=args.data)
    return read_voc_text_folders(args.gt, args.pred)


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def evaluate(args: argparse.Namespace) -> dict:
    """Run every evaluation and return the JSON-ready report (also what the tables show)."""
    from harness.metrics import evaluate_coco, evaluate_voc, localization_analysis

    if not 0.0 < args.iou_threshold <= 1.0:
        raise InputError(expected("an IoU threshold in (0, 1]", args.iou_threshold, "--iou-threshold"))
    gt, dt = _load(args)
    coco = evaluate_coco(gt, dt, args.iou_type)
    voc = evaluate_voc(gt, dt, iou_threshold=args.iou_threshold, method=args.voc_method, iou_type=args.iou_type)
    loc = localization_analysis(gt, dt, iou_threshold=args.iou_threshold, iou_type=args.iou_type, alphas=())
    classes = []
    for row, voc_ap in zip(coco.per_class(), voc.ap):
        classes.append({"id": row.category_id, "name": row.name, "n_gt": row.n_gt, "n_dt": row.n_dt,
                        "ap": _num(row.ap), "ap50": _num(row.ap50), "ap75": _num(row.ap75), "voc_ap": _num(voc_ap),
                        "ar": _num(row.ar)})
    return {
        "schema": JSON_SCHEMA,
        "gt": str(args.gt),
        "pred": str(args.pred),
        "format": args.format,
        "iou_type": args.iou_type,
        "n_images": len(gt.image_ids),
        "n_gt": int((~gt.iscrowd).sum()),
        "n_crowd": int(gt.iscrowd.sum()),
        "n_dt": len(dt),
        "coco": {name: (None if v == -1 else float(v)) for name, v in coco.as_dict().items()},
        "coco_ap_per_iou": coco.ap_per_iou(),
        "voc": {"iou_threshold": args.iou_threshold, "method": args.voc_method, "map": _num(voc.mean_ap)},
        "localization": {
            "iou_threshold": args.iou_threshold,
            "n_tp": loc.n_tp,
            "mean_matched_iou": _num(loc.mean_tp_iou),
            "tight_box_rate_90": _num(loc.tight_90),
            "tight_box_rate_95": _num(loc.tight_95),
        },
        "per_class": classes,
    }


def _fmt(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def render(report: dict) -> None:
    """Print the report as rich tables (stdout)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{report['pred']}[/] vs [bold]{report['gt']}[/]  ({report['format']}, {report['iou_type']}): "
                  f"{report['n_images']} images, {report['n_gt']} objects"
                  + (f" + {report['n_crowd']} crowd" if report["n_crowd"] else "") + f", {report['n_dt']} detections")
    t = Table(title="COCO (pycocotools protocol; '-' = no objects in that range)", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key, label in STAT_LABELS:
        t.add_row(label, _fmt(report["coco"][key]))
    voc, loc = report["voc"], report["localization"]
    thr = f"{voc['iou_threshold']:g}"
    t.add_section()
    t.add_row(f"VOC mAP @{thr} ({voc['method'].replace('_', '-')})", _fmt(voc["map"]))
    t.add_row(f"mean matched IoU @{thr} ({loc['n_tp']} TPs)", _fmt(loc["mean_matched_iou"]))
    t.add_row("tight-box rate (TP IoU >= 0.90)", _fmt(loc["tight_box_rate_90"]))
    t.add_row("tight-box rate (TP IoU >= 0.95)", _fmt(loc["tight_box_rate_95"]))
    console.print(t)
    c = Table(title="Per class (AP with the largest maxDets, area all)", title_justify="left")
    for col in ("class", "objects", "detections", "AP", "AP50", f"VOC AP@{thr}"):
        c.add_column(col, justify="left" if col == "class" else "right")
    for row in report["per_class"]:
        c.add_row(row["name"], str(row["n_gt"]), str(row["n_dt"]), _fmt(row["ap"]), _fmt(row["ap50"]), _fmt(row["voc_ap"]))
    console.print(c)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``bench eval``; returns 0 (bad input raises and the CLI exits 2)."""
    report = evaluate(args)
    if args.json:
        print(json.dumps(report, allow_nan=False))
    else:
        render(report)
    return 0
