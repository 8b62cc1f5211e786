"""``python -m exporters.prune_cli``: prune a YOLO .pt, fine-tune it, and save a reloadable checkpoint.

After ``--out X.pt`` it writes ``X.json`` beside it (atomically; a failure there keeps ``X.pt``): the
file's SHA-256 and size, what it was derived from, the fine-tuning settings with the per-epoch val
curve and its plateau verdict, the exact command line, Ultralytics' val of the saved model, the
environment, and for a pruned model the pruning. The shipped ``yolo11n-pruned30`` and ``yolo11n-ft20``
are made this way (their commands are in their JSONs).

Example:
    >>> meta = model_meta(Path(__file__), {"ratio": 0.3, "family": "yolo11", "source_file": "a.pt",
    ...     "source_sha256": "ab", "params_before": 9, "params_after": 5, "gmacs_before": 1.0,
    ...     "gmacs_after": 0.5, "finetune": {"epochs": 0}}, command="python -m exporters.prune_cli ...",
    ...     data_yaml=None, val=None, val_absent="--no-val", environment={})
    >>> meta["kind"], meta["finetune"]["val_curve"], meta["plateau"]
    ('pruned 30% (not fine-tuned)', None, None)
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from common.atomic import write_json_atomic
from common.errors import BenchError
from common.hashing import file_sha256
from exporters.training_record import VAL_PROTOCOL, plateau, plateau_line, ultralytics_val  # noqa: F401 (VAL_PROTOCOL re-exported)

META_VERSION = 1  # the model JSON's format, the same as bench train's
SYNTHETIC = "synthetic (bench data synth, seed {seed})"


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m exporters.prune_cli``."""
    p = argparse.ArgumentParser(
        prog="python -m exporters.prune_cli",
        description="Prune a YOLO .pt by a fraction of its channels, fine-tune it, and save a reloadable checkpoint.",
    )
    p.add_argument("--model", required=True, type=Path, help="source Ultralytics .pt (YOLOv8/YOLO11/YOLO12 detect)")
    p.add_argument("--ratio", type=float, help="fraction of channels removed, 0.05..0.9 (e.g. 0.30)")
    p.add_argument("--control", action="store_true",
                   help="no pruning: fine-tune the source with the same settings (the like-for-like control "
                        "of a pruned variant's extra training)")
    p.add_argument("--data", type=Path, help="dataset YAML for fine-tuning (train split; the last epoch is kept)")
    p.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs (0 = prune only; accuracy drops)")
    p.add_argument("--imgsz", type=int, default=None, help="fine-tuning input size (default: the source's training size)")
    p.add_argument("--batch", type=int, default=16, help="fine-tuning batch size")
    p.add_argument("--device", default="cpu", help="training device, e.g. cpu or 0")
    p.add_argument("--round-to", type=int, default=8, help="kept channel counts are multiples of this")
    p.add_argument("--distill", action="store_true",
                   help="also distill from the unpruned model while fine-tuning (~4x slower per epoch on CPU)")
    p.add_argument("--teacher", type=Path,
                   help="with --control: distill from this larger .pt while fine-tuning, making a student derived "
                        "from --model (its like-for-like control: the same command without --teacher)")
    p.add_argument("--dis", type=float, default=None,
                   help="distillation loss weight with --teacher or --distill (default: Ultralytics' dis, 6.0)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: Ultralytics' choice, cores - 1, i.e. 1 on a 2-core machine); "
                        "speed only")
    p.add_argument("--out", required=True, type=Path,
                   help="where to write the pruned .pt (X.json is written beside it)")
    p.add_argument("--no-val", action="store_true",
                   help="skip Ultralytics' final val of the saved model (its JSON then has \"val\": null)")
    return p


def command_line(argv: list[str]) -> str:
    """The command as given, for the JSON: ``python -m exporters.prune_cli`` and the arguments, quoted."""
    return " ".join(["python -m exporters.prune_cli", shlex.join(argv)]).strip()


def data_label(data_yaml: Path | None) -> str | None:
    """How the JSON names the fine-tuning data: never this machine's absolute path.

    A dataset made by ``bench data synth`` (a ``synth.json`` beside its YAML) is named by its seed;
    another by the path as given when relative, else by its file name.
    """
    if data_yaml is None:
        return None
    try:
        synth = json.loads((Path(data_yaml).parent / "synth.json").read_text())
    except (OSError, ValueError):
        synth = None
    if isinstance(synth, dict) and "seed" in synth:
        return SYNTHETIC.format(seed=synth["seed"])
    return Path(data_yaml).name if Path(data_yaml).is_absolute() else str(data_yaml)


def environment(*, device: str, train_s: float) -> dict:
    """Versions and machine the model was made with."""
    import platform

    import torch
    import ultralytics

    return {"ultralytics": ultralytics.__version__, "torch": torch.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "device": device, "train_seconds": round(train_s, 1)}


def model_meta(out: Path, record: dict, *, command: str, data_yaml: Path | None, val: dict | None,
               val_absent: str | None, environment: dict) -> dict:
    """The JSON that describes a derived ``out`` (pruned, or the unpruned fine-tune control).

    Args:
        out: the written ``.pt`` (hashed here).
        record: its ``bench_pruning`` (has ``ratio``) or ``bench_control`` record.
        command: the command line that made it.
        data_yaml: the fine-tuning dataset, named by :func:`data_label`.
        val: :func:`ultralytics_val`'s figures, or None when not run (``val_absent`` says why).
        val_absent: why ``val`` is None.
        environment: :func:`environment`'s dict.
    """
    pruned = "ratio" in record
    ft = {k: v for k, v in (record.get("finetune") or {"epochs": 0}).items() if k != "data_yaml"}
    epochs = ft.get("epochs") or 0
    if epochs:
        ft["data"] = data_label(data_yaml)
        curve = ft.get("val_curve") or None
        if curve is None:
            ft["val_curve"] = None
            ft["val_curve_absent"] = "the fine-tuning logged no per-epoch val (results.csv had no val mAP)"
    else:
        curve = ft["val_curve"] = None
        ft["val_curve_absent"] = "not fine-tuned (--epochs 0): no per-epoch val curve"
    teacher = record.get("teacher")
    if pruned:
        kind = f"pruned {record['ratio'] * 100:g}% " + ("+ fine-tuned" if epochs else "(not fine-tuned)")
    elif teacher:
        kind = f"distilled fine-tune (a student of {teacher.get('path')})"
    else:
        kind = "fine-tune control (unpruned)"
    meta = {
        "meta_version": META_VERSION,
        "name": Path(out).stem,
        "arch": None if pruned else record.get("arch"),
        "family": record.get("family", "unknown"),
        "sha256": file_sha256(out),
        "size_bytes": Path(out).stat().st_size,
        "imgsz": ft.get("imgsz") or record.get("example_imgsz"),
        "derived_from": {"file": record.get("source_file"), "sha256": record.get("source_sha256")},
        "kind": kind,
        "finetune": ft,
        "plateau": plateau(curve) if curve else None,
        "command": command,
        "val": val,
        **({} if val is not None else {"val_absent": val_absent or "not run"}),
        "environment": environment,
    }
    if record.get("names"):
        meta["classes"] = list(record["names"])
    if teacher:  # harness.student reads the teacher's file name and hash from here
        meta["teacher"] = dict(teacher)  # exporters.training_record.teacher_record: the same as bench train's
        meta["distillation"] = {
            "method": "ultralytics DistillationModel (distill_model=TEACHER) during the fine-tune",
            "dis": ft.get("dis"),
            "control": f"the same fine-tune without --teacher (python -m exporters.prune_cli --control ... "
                       f"--epochs {epochs}): student vs control is distillation's own effect"}
    if pruned:
        meta["pruning"] = {k: record.get(k) for k in ("ratio", "params_before", "params_after", "gmacs_before",
                                                     "gmacs_after")}
    return meta


def write_model_json(out: Path, meta: dict) -> Path:
    """Write ``meta`` to ``out``'s ``.json`` atomically; a failure leaves no partial file and keeps ``out``."""
    path = Path(out).with_suffix(".json")
    try:
        return write_json_atomic(path, meta)
    except (OSError, TypeError, ValueError) as exc:
        raise BenchError(f"{path}: not written ({type(exc).__name__}: {exc}); {out} is kept") from exc


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m exporters.prune_cli``; prints the plateau line after a fine-tune and one
    summary line, exits 2 on bad input."""
    import os

    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    start = time.monotonic()
    try:
        from common.errors import InputError, expected
        from exporters.finetune import finetune_control, prune_and_finetune

        _check_training_options(args)
        if args.control:
            if args.ratio is not None:
                raise InputError(expected("--control without --ratio (the control is not pruned)",
                                          f"--ratio {args.ratio}", "--ratio"))
            if args.data is None or args.epochs < 1:
                raise InputError(expected("--data and --epochs >= 1 for the control", "none", "--control"))
            info = finetune_control(args.model, out=args.out, data_yaml=args.data, epochs=args.epochs,
                                    imgsz=args.imgsz, batch=args.batch, device=args.device, teacher=args.teacher,
                                    dis=args.dis, threads=args.threads, val_curve=True)
            summary = (f"{args.out}: {args.model} fine-tuned {info['finetune']['epochs']} epochs, unpruned"
                       + (f", distilled from {args.teacher} (a student)" if args.teacher else " (control)"))
        else:
            if args.ratio is None:
                raise InputError(expected("--ratio (e.g. 0.30) or --control", "neither", "--ratio"))
            info = prune_and_finetune(
                args.model, args.ratio, out=args.out, data_yaml=args.data, epochs=args.epochs,
                imgsz=args.imgsz, batch=args.batch, device=args.device, round_to=args.round_to,
                distill=args.distill, dis=args.dis, threads=args.threads, val_curve=True,
            )
            summary = (f"{args.out}: params {info['params_before']:,} -> {info['params_after']:,}, "
                       f"GMACs@{info['example_imgsz']} {info['gmacs_before']} -> {info['gmacs_after']}, "
                       f"fine-tuned {args.epochs} epochs{' with distillation' if args.distill and args.epochs else ''}")
        json_path, meta = _describe(args, info, argv, train_s=time.monotonic() - start)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    if args.epochs:  # the fine-tune's curve in words (the JSON's plateau block), then where it all went
        print(plateau_line(Path(args.out).stem, meta.get("plateau"), epochs=args.epochs))
    print(f"{summary} -> {json_path}")
    return 0


def _check_training_options(args: argparse.Namespace) -> None:
    """--teacher only with --control, --dis only when something is distilled, --threads >= 1."""
    from common.errors import InputError, expected

    if args.teacher is not None and not args.control:
        raise InputError(expected("--teacher with --control (a pruned model distills from its source: --distill)",
                                  f"--teacher {args.teacher} without --control", "--teacher"))
    if args.teacher is not None and not args.teacher.is_file():
        raise InputError(expected("an existing teacher .pt", "no such file", str(args.teacher)))
    if args.dis is not None and args.teacher is None and not args.distill:
        raise InputError(expected("--dis with --teacher or --distill", f"--dis {args.dis:g} alone", "--dis"))
    if args.dis is not None and not args.dis > 0:
        raise InputError(expected("a distillation weight > 0", f"{args.dis:g}", "--dis"))
    if args.threads is not None and args.threads < 1:
        raise InputError(expected("--threads >= 1", args.threads, "--threads"))


def _describe(args: argparse.Namespace, info: dict, argv: list[str], *, train_s: float) -> tuple[Path, dict]:
    """Validate the written ``--out`` (unless ``--no-val``) and write its JSON beside it: ``(its path, the JSON)``."""
    imgsz = (info.get("finetune") or {}).get("imgsz") or info.get("example_imgsz")
    val, absent = None, None
    if args.no_val:
        absent = "not run (--no-val)"
    elif args.data is None:
        absent = "not run: no --data to validate on"
    else:
        try:
            val = ultralytics_val(args.out, data_yaml=args.data, imgsz=imgsz, device=args.device)
        except BenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported with its cause; the written .pt is kept
            raise BenchError(f"{args.out}: written, but Ultralytics' val of it failed ({type(exc).__name__}: "
                             f"{exc}); no JSON written") from exc
    meta = model_meta(args.out, info, command=command_line(argv), data_yaml=args.data, val=val, val_absent=absent,
                      environment=environment(device=args.device, train_s=train_s))
    return write_model_json(args.out, meta), meta


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
