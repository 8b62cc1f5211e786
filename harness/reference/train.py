"""``bench train``: train a reference model on the synthetic dataset, entirely offline.

The reference checkpoints shipped in ``harness/reference/models/`` were made with::

    bench train --arch yolo11n --epochs 40
    bench train --arch yolo12n --epochs 40
    bench train --arch yolo11s --epochs 40

Each writes ``<arch>.pt`` and ``<arch>.json`` (SHA-256, training settings, achieved val metrics).
Ultralytics builds the network from the config that ships inside the package (``yolo11n.yaml``), so
nothing is downloaded; ``amp=False`` (the AMP check downloads a model) and ``plots=False`` (plots
download a font).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from harness.errors import InputError, expected, require
from harness.reference import MODELS_DIR
from results.record import file_sha256 as sha256_file

ARCHES = ("yolo11n", "yolo11s", "yolo12n", "yolo12s")
META_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", default="yolo11n", help=f"architecture config shipped with ultralytics: {', '.join(ARCHES)}")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="training seed (the dataset seed is 0)")
    parser.add_argument("--data", type=Path, help="data.yaml (default: the synthetic dataset, generated on first use)")
    parser.add_argument("--teacher", type=Path, help="teacher .pt for knowledge distillation (ultralytics distill_model)")
    parser.add_argument("--name", help="output name (default: the arch, or <arch>-student with --teacher)")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="folder for <name>.pt and <name>.json")
    parser.add_argument("--workers", type=int, default=2)


def run(args: argparse.Namespace) -> int:
    if args.arch not in ARCHES:
        raise InputError(expected(f"one of {', '.join(ARCHES)}", repr(args.arch), "--arch"))
    if args.epochs < 1:
        raise InputError(expected("at least 1 epoch", args.epochs, "--epochs"))
    if args.teacher is not None and not args.teacher.is_file():
        raise InputError(expected("an existing teacher .pt file", "no such file", str(args.teacher)))
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    if args.data is None:
        from harness.data.synth import ensure_dataset

        data_yaml = ensure_dataset() / "data.yaml"
    else:
        data_yaml = args.data
    if not data_yaml.is_file():
        raise InputError(expected("an existing data.yaml", "no such file", str(data_yaml)))
    ultralytics = require("ultralytics", extra="export")
    torch = require("torch", extra="export")
    name = args.name or (f"{args.arch}-student" if args.teacher else args.arch)
    extra = {}
    if args.teacher is not None:
        extra["distill_model"] = str(args.teacher)
    model = ultralytics.YOLO(f"{args.arch}.yaml")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-train-{name}-"))
    settings = dict(data=str(data_yaml), imgsz=args.imgsz, epochs=args.epochs, batch=args.batch, seed=args.seed,
                    workers=args.workers, device="cpu", amp=False, plots=False, deterministic=True,
                    cache="ram", project=str(workdir), name="train", exist_ok=True, verbose=False, **extra)
    t0 = time.time()
    model.train(**settings)
    # The last epoch, not best.pt: best.pt is chosen by fitness on the val split, which is also the
    # split bench scores on, and a checkpoint selected on the scored images would flatter itself.
    last = workdir / "train" / "weights" / "last.pt"
    if not last.is_file():
        raise InputError(expected("a last.pt written by training", "none", str(last.parent)))
    finalize(last, args=args, name=name, data_yaml=data_yaml, settings=settings, train_s=time.time() - t0,
             workdir=workdir)
    return 0


def finalize(last: Path, *, args: argparse.Namespace, name: str, data_yaml: Path, settings: dict, train_s: float,
             workdir: Path) -> Path:
    """Validate the final checkpoint, copy it into ``args.out`` and write its JSON beside it."""
    ultralytics = require("ultralytics", extra="export")
    torch = require("torch", extra="export")
    trained = ultralytics.YOLO(str(last))
    metrics = trained.val(data=str(data_yaml), imgsz=args.imgsz, batch=16, conf=0.001, iou=0.7, plots=False,
                          device="cpu", verbose=False, project=str(workdir), name="val")
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"{name}.pt"
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(last, tmp)
    os.replace(tmp, dest)
    synth = data_yaml.parent / "synth.json"
    meta = {
        "meta_version": META_VERSION,
        "name": name,
        "arch": args.arch,
        "family": args.arch[:-1],
        "sha256": sha256_file(dest),
        "size_bytes": dest.stat().st_size,
        "imgsz": args.imgsz,
        "classes": [trained.names[i] for i in sorted(trained.names)],
        "teacher": None if args.teacher is None else {"path": args.teacher.name, "sha256": sha256_file(args.teacher)},
        "data": {"data_yaml": "synthetic (bench data synth, seed 0)" if args.data is None else str(args.data),
                 "synth": json.loads(synth.read_text()) if synth.is_file() else None},
        "train": {k: v for k, v in settings.items() if k not in ("project", "name", "exist_ok", "verbose", "data")},
        "checkpoint": "the last epoch (not selected on the val split)",
        "val": {"map50_95": float(metrics.box.map), "map50": float(metrics.box.map50),
                "precision": float(metrics.box.mp), "recall": float(metrics.box.mr),
                "protocol": "ultralytics model.val(conf=0.001, iou=0.7) on the val split"},
        "environment": {"ultralytics": ultralytics.__version__, "torch": torch.__version__,
                        "python": platform.python_version(), "machine": platform.machine(),
                        "train_seconds": round(train_s, 1)},
    }
    meta_path = dest.with_suffix(".json")
    tmp = meta_path.with_name(meta_path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, meta_path)
    print(f"{name}: mAP50-95 {meta['val']['map50_95']:.4f}, mAP50 {meta['val']['map50']:.4f} "
          f"after {args.epochs} epochs in {train_s / 60:.1f} min -> {dest}")
    return dest
