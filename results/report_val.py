"""The report's "as ``yolo val`` shows them" section: per variant, the F1-optimal confidence with P, R and F1
there, the confusion-matrix counts, P/R/F1 curves, a per-class table and the confusion matrix plot.

Everything is read from the record's ``accuracy.yolo_val`` (:mod:`harness.metrics.yolo_val` wrote it with
Ultralytics' conventions); a record without it (older, or no ground truth) gets no section.
"""

from __future__ import annotations

from pathlib import Path

from results import format as fmt
from results import plots
from results.blocks import Bullets, Heading, Image, Para, Table
from results.schema import Record

__all__ = ["val_blocks"]


def _num(x, digits: int = 3) -> str:
    return fmt.DASH if x is None else f"{x:.{digits}f}"


def _counts(y: dict, nc: int) -> tuple[int, int, int, int]:
    """(right class, wrong class, missed, spurious) from the sparse confusion cells."""
    right = wrong = missed = spurious = 0
    for p, t, n in y["confusion"]["cells"]:
        if p == nc and t < nc:
            missed += n
        elif t == nc and p < nc:
            spurious += n
        elif p == t:
            right += n
        else:
            wrong += n
    return right, wrong, missed, spurious


def val_blocks(record: Record, *, out: Path, stem: str) -> tuple[list, list[Path]]:
    """The section's blocks and the plots it drew into ``out/plots`` (nothing when no variant has ``yolo_val``)."""
    rows = [(v.name, v.accuracy.yolo_val) for v in record.variants
            if v.ok and v.accuracy is not None and v.accuracy.yolo_val is not None]
    if not rows:
        return [], []
    nc = len(record.model.classes or ())
    blocks: list = [Heading(3, "Detection metrics as yolo val shows them")]
    table = []
    for name, y in rows:
        best = y.get("f1_optimal") or {}
        counts = _counts(y, nc) if nc and "confusion" in y else (None,) * 4
        table.append((name, _num(best.get("conf"), 2), _num(best.get("precision")), _num(best.get("recall")),
                      _num(best.get("f1")), *(fmt.DASH if c is None else str(c) for c in counts)))
    conf = rows[0][1].get("confusion", {})
    blocks += [Table(("variant", "F1-optimal conf", "P", "R", "F1", "right class", "wrong class", "missed",
                      "spurious"), tuple(table)),
               Bullets((
                   "F1-optimal conf: the confidence where the class-mean F1 curve (smoothed, as Ultralytics does) "
                   "peaks; P, R and F1 are class means there, a detection counting as correct at IoU >= 0.5 "
                   "(Ultralytics' greedy matching).",
                   f"right class, wrong class, missed, spurious: the confusion matrix (detections with conf > "
                   f"{conf.get('conf', 0.25):g} matched to ground truth of any class at IoU > {conf.get('iou', 0.45):g}, "
                   "highest confidence first): boxes found with the right class, found with a wrong class, ground "
                   "truth not found (background row), detections matching nothing (background column).",
                   "Per class: P and R at the variant's F1-optimal confidence; mAP50 and mAP50-95 by the COCO "
                   "protocol (the run table's mAP)."))]
    images: list[Path] = []
    plot_dir = out / "plots"
    path = plots.pr_f1_curves(record, plot_dir / f"{stem}-pr-f1.png")
    if path is not None:
        images.append(path)
        blocks.append(Image(path.relative_to(out).as_posix(), "precision, recall and F1 against confidence per variant"))
    for name, y in rows:
        per_class = y.get("per_class") or {}
        blocks.append(Heading(4, f"{name}: per class"))
        if per_class:
            blocks.append(Table(("class", "labels", "P", "R", "mAP50", "mAP50-95"), tuple(
                (cls, str(r.get("n_gt", fmt.DASH)), _num(r.get("precision")), _num(r.get("recall")),
                 _num(r.get("map50")), _num(r.get("map50_95"))) for cls, r in per_class.items())))
        else:
            blocks.append(Para("No class has ground truth."))
        path = plots.confusion_matrix(record, name, plot_dir / f"{stem}-confusion-{name}.png")
        if path is not None:
            images.append(path)
            blocks.append(Image(path.relative_to(out).as_posix(), f"{name}: detection confusion matrix"))
    return blocks, images
