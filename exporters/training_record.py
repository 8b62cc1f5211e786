"""What a training left behind for the record: its per-epoch val curve and whether that curve is flat.

Shared by ``bench train`` (:mod:`harness.reference.train`) and the fine-tuning of derived models
(:mod:`exporters.finetune`, :mod:`exporters.prune_cli`), so a base model's JSON and a derived one's
carry the same ``val_curve`` and ``plateau``, and a student's JSON the same record of its teacher
(:func:`teacher_record`: checked the same way, its val read the same way). Ultralytics writes ``results.csv`` in its run folder,
one row an epoch, its header padded with spaces (``"                  epoch,  metrics/mAP50(B),..."``).

Example:
    >>> curve = [{"epoch": i + 1, "map50_95": 0.5, "map50": 0.8} for i in range(12)]
    >>> plateau(curve)["flat"], plateau(curve[:5])
    (True, None)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from common.errors import InputError, expected

__all__ = ["LARGER", "PLATEAU_POINTS", "PLATEAU_WINDOW", "VAL_PROTOCOL", "continuation", "plateau", "plateau_line",
           "read_val_curve", "short_names", "teacher_record", "ultralytics_val"]

VAL_PROTOCOL = "ultralytics model.val(conf=0.001, iou=0.7) on the val split"

PLATEAU_WINDOW = 10  # epochs
PLATEAU_POINTS = 0.3  # mAP50-95 points: "flat" = the fitted rise over the window is within this
LARGER = 1.1  # a teacher needs at least 1.1x the student's parameters to count as larger


def read_val_curve(results_csv: Path) -> list[dict]:
    """The per-epoch val mAP50-95 and mAP50 Ultralytics logged in ``results_csv``.

    Ultralytics validates its EMA model on the val split after every epoch when trained with
    ``val=True``; these are those figures, rounded to 5 digits. Empty when the file is missing;
    rows without the two metrics (a training with ``val=False`` logs them only for its last epoch)
    are left out.

    Returns:
        ``[{"epoch": 1, "map50_95": ..., "map50": ...}, ...]`` in the file's order.
    """
    path = Path(results_csv)
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        rows = [{(k or "").strip(): v for k, v in row.items()} for row in csv.DictReader(fh)]
    out = []
    for row in rows:
        try:
            out.append({"epoch": int(float(row["epoch"])), "map50_95": round(float(row["metrics/mAP50-95(B)"]), 5),
                        "map50": round(float(row["metrics/mAP50(B)"]), 5)})
        except (KeyError, TypeError, ValueError):
            continue
    return out


def plateau(curve: list[dict], *, window: int = PLATEAU_WINDOW, points: float = PLATEAU_POINTS) -> dict | None:
    """Whether the val curve is flat over its last ``window`` epochs; None with fewer epochs.

    ``rise_points``: the least-squares line through the last ``window`` values, its rise from the
    first to the last of those epochs, in mAP50-95 points; ``spread_points``: max - min there.
    ``flat`` when ``|rise_points| <= points``. ``rise_se_points``: the standard error of that rise
    (residual scatter about the line, ``window - 2`` degrees of freedom), so a reader can tell a
    rise the window resolves from epoch-to-epoch noise.

        >>> plateau([{"epoch": i, "map50_95": 0.5} for i in range(12)])["flat"]
        True
        >>> plateau([{"epoch": i, "map50_95": 0.5 + 0.001 * i} for i in range(12)])["rise_points"]
        0.9
    """
    if len(curve) < window:
        return None
    ys = [c["map50_95"] for c in curve[-window:]]
    xs = list(range(window))
    mx, my = sum(xs) / window, sum(ys) / window
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    rise = round(100 * slope * (window - 1), 2)
    scatter = (sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys)) / (window - 2)) ** 0.5 if window > 2 else 0.0
    out = {"window_epochs": window, "first_epoch": curve[-window]["epoch"], "last_epoch": curve[-1]["epoch"],
           "rise_points": rise, "rise_se_points": round(100 * scatter / sxx ** 0.5 * (window - 1), 2),
           "spread_points": round(100 * (max(ys) - min(ys)), 2),
           "flat": abs(rise) <= points, "criterion": f"|fitted rise over the last {window} epochs| <= {points} points"}
    if len(curve) >= 2 * window:
        out.update(_step([c["map50_95"] for c in curve[-2 * window:-window]], ys, points))
    return out


def _step(before: list[float], last: list[float], points: float) -> dict:
    """The level test beside the fitted rise: the mean of the last window minus the mean of the window before.

    A fitted line over the last window alone reads a dip and its recovery inside the window as a rise
    (Ultralytics' ``close_mosaic`` phase is exactly the last 10 epochs by default: its first epoch
    drops, the rest climb back); comparing the two windows' levels does not. ``step_se_points``: the
    standard error of that difference (each window's sample variance over its length).
    """
    n = len(last)
    mean_b, mean_l = sum(before) / n, sum(last) / n
    var = sum((y - mean_b) ** 2 for y in before) / (n - 1) / n + sum((y - mean_l) ** 2 for y in last) / (n - 1) / n
    step = round(100 * (mean_l - mean_b), 2)
    return {"step_points": step, "step_se_points": round(100 * var ** 0.5, 2), "step_flat": abs(step) <= points,
            "step_criterion": f"|mean of the last {n} epochs - mean of the {n} before| <= {points} points"}


def continuation(meta: dict, continued: dict, *, points: float = PLATEAU_POINTS) -> dict:
    """The direct test of a model's convergence: its Ultralytics val against the same model trained E more epochs.

    ``meta`` is the model's JSON, ``continued`` the JSON of its like-for-like control (``prune_cli --control``:
    fine-tuned E epochs with the same settings, no pruning, no teacher), which must name ``meta``'s hash as its
    source. A curve's last window can read as rising only because Ultralytics' ``close_mosaic`` phase ends it
    with a dip and its recovery; E more epochs with a fresh schedule either buy accuracy or they do not.
    ``flat`` when ``|gain_points| <= points``.

        >>> m = {"sha256": "a", "val": {"map50_95": 0.8491}}
        >>> c = {"name": "m-ft20", "sha256": "b", "derived_from": {"sha256": "a"}, "finetune": {"epochs": 20},
        ...      "val": {"map50_95": 0.8517}}
        >>> continuation(m, c)["gain_points"], continuation(m, c)["flat"]
        (0.26, True)

    Raises:
        InputError: ``continued`` was not fine-tuned from ``meta``'s model, either has no val, or
            ``continued`` does not say how many epochs it was fine-tuned.
    """
    where = continued.get("name", "the continuation")
    source = (continued.get("derived_from") or {}).get("sha256")
    if source != meta.get("sha256"):
        raise InputError(expected(f"a fine-tune of the model with sha256 {str(meta.get('sha256'))[:12]}",
                                  f"one of sha256 {str(source)[:12]}", where))
    mine, theirs = (meta.get("val") or {}).get("map50_95"), (continued.get("val") or {}).get("map50_95")
    if mine is None or theirs is None:
        raise InputError(expected("an Ultralytics val in both JSONs", "none", where))
    epochs = (continued.get("finetune") or {}).get("epochs")
    if not epochs:
        raise InputError(expected("the epochs it was fine-tuned (its finetune block)", "none", where))
    gain = round(100 * (theirs - mine), 2)
    return {"model": f"{continued['name']}.pt", "sha256": continued["sha256"], "epochs": epochs,
            "val_map50_95": theirs, "gain_points": gain, "flat": abs(gain) <= points,
            "criterion": f"|Ultralytics val after {epochs} more epochs (same settings, no teacher) - this model's| "
                         f"<= {points} points"}


def plateau_line(name: str, verdict: dict | None, *, epochs: int) -> str:
    """The line a training prints about its curve's end (the JSON's ``plateau`` block in words).

        >>> plateau_line("yolo11n", {"window_epochs": 10, "first_epoch": 141, "last_epoch": 150, "rise_points": 1.14,
        ...                          "rise_se_points": 0.22, "flat": False}, epochs=150)
        'yolo11n: val mAP50-95 over epochs 141-150 rose +1.14 ± 0.22 points (fitted): not flat (criterion: within 0.3)'
        >>> plateau_line("yolo11n", None, epochs=2)
        'yolo11n: no plateau verdict: 2 epochs, fewer than the 10 it is judged over'
    """
    if verdict is None:
        return f"{name}: no plateau verdict: {epochs} epochs, fewer than the {PLATEAU_WINDOW} it is judged over"
    se = verdict.get("rise_se_points")
    line = (f"{name}: val mAP50-95 over epochs {verdict['first_epoch']}-{verdict['last_epoch']} rose "
            f"{verdict['rise_points']:+.2f}" + (f" ± {se:.2f}" if se is not None else "") + " points (fitted): "
            + ("flat" if verdict["flat"] else "not flat") + f" (criterion: within {PLATEAU_POINTS:g})")
    if verdict.get("step_points") is not None:
        line += (f"; their mean vs the {verdict['window_epochs']} epochs before: {verdict['step_points']:+.2f} ± "
                 f"{verdict['step_se_points']:.2f}: " + ("level" if verdict["step_flat"] else "not level"))
    return line


def ultralytics_val(weights, *, data_yaml: Path, imgsz: int, device: str = "cpu", project: Path | None = None) -> dict:
    """Ultralytics' ``val`` of a finished model on the val split: the ``val`` block of its JSON.

    Args:
        weights: the ``.pt`` to validate, or an ``ultralytics.YOLO`` the caller already loaded it into.
        data_yaml: the dataset YAML (its val split).
        imgsz: validation input size.
        device: ``"cpu"``, ``"0"``, ...
        project: the folder Ultralytics writes its val run into (``<project>/val``); None: a temporary one.

    Returns:
        ``{"map50_95", "map50", "precision", "recall", "protocol"}``.
    """
    import tempfile

    from common.errors import require

    if isinstance(weights, (str, Path)):
        weights = require("ultralytics", extra="export").YOLO(str(weights))
    with tempfile.TemporaryDirectory(prefix="bench-val-") as tmp:
        m = weights.val(data=str(data_yaml), imgsz=imgsz, batch=16, conf=0.001, iou=0.7,
                                               plots=False, device=device, verbose=False,
                                               project=str(project or tmp), name="val", exist_ok=True)
    return {"map50_95": float(m.box.map), "map50": float(m.box.map50), "precision": float(m.box.mp),
            "recall": float(m.box.mr), "protocol": VAL_PROTOCOL}


def teacher_record(path: Path, src, *, names, names_of: str, student_params: int, student_label: str,
                   names_where: str = "") -> tuple[dict, str | None]:
    """Check a distillation teacher against its student before any training; what the student's JSON
    records of it, and a caveat when it is not clearly larger.

    ``src`` is the teacher as :func:`exporters.source.inspect_source` read it; ``names`` the classes it
    must have (``names_of`` says whose they are, e.g. ``"the student's"``; ``names_where`` where they were
    read, e.g. the data YAML); ``student_label`` names the student in messages. The teacher's own
    Ultralytics val comes from the JSON beside it only when that JSON describes this very file (same
    SHA-256); otherwise ``val_map50_95`` is None and ``val_map50_95_source`` says why.

    Raises:
        InputError: other classes than ``names``, or fewer parameters than the student.

    Returns:
        ``({"path", "sha256", "arch", "family", "params", "val_map50_95", "val_map50_95_source"}, caveat)``;
        ``caveat`` is a sentence when the teacher has under :data:`LARGER` times the student's parameters
        (self-distillation), else None.
    """
    path = Path(path)
    if list(src.names) != list(names):
        raise InputError(expected(f"a teacher with {names_of} {len(names)} classes {short_names(names)}"
                                  + (f" ({names_where})" if names_where else ""),
                                  f"{len(src.names)} classes {short_names(src.names)}", str(path)))
    if src.params is not None and student_params is not None and src.params < student_params:
        raise InputError(expected(f"a teacher larger than the {student_label} ({student_params / 1e6:.2f}M parameters)",
                                  f"{src.params / 1e6:.2f}M parameters ({src.arch or 'unknown arch'})", str(path)))
    caveat = None
    if src.params is not None and student_params is not None and src.params < LARGER * student_params:
        caveat = (f"the teacher {path.name} ({src.params / 1e6:.2f}M parameters) is not larger than the "
                  f"{student_label} ({student_params / 1e6:.2f}M): this is self-distillation, not a larger model's "
                  "guidance")
    info = {"path": path.name, "sha256": src.sha256, "arch": src.arch, "family": src.family, "params": src.params,
            "val_map50_95": None, "val_map50_95_source": None}
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        info["val_map50_95_source"] = f"no {meta_path.name} beside the teacher"
        return info, caveat
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict):
        info["val_map50_95_source"] = f"{meta_path.name} is unreadable"
    elif meta.get("sha256") != src.sha256:
        info["val_map50_95_source"] = f"{meta_path.name} describes another file (sha256 {str(meta.get('sha256'))[:12]})"
    else:
        val = meta.get("val") if isinstance(meta.get("val"), dict) else {}
        info["val_map50_95"] = val.get("map50_95")
        info["val_map50_95_source"] = f"{meta_path.name}: {val.get('protocol', 'val split')}"
        info["arch"] = meta.get("arch") or info["arch"]
    return info, caveat


def short_names(names, keep: int = 6) -> str:
    """The first ``keep`` class names, for a message: ``['car', 'bus', ... +3 more]``."""
    names = list(names)
    text = ", ".join(repr(n) for n in names[:keep])
    return f"[{text}{f', ... +{len(names) - keep} more' if len(names) > keep else ''}]"
