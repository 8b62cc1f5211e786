"""``python -m exporters.prune_cli``: prune a YOLO .pt, fine-tune it, and save a reloadable checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.errors import BenchError


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
    p.add_argument("--out", required=True, type=Path, help="where to write the pruned .pt")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m exporters.prune_cli``; prints one summary line, exits 2 on bad input."""
    import os

    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    args = build_parser().parse_args(argv)
    try:
        from common.errors import InputError, expected
        from exporters.finetune import finetune_control, prune_and_finetune

        if args.control:
            if args.ratio is not None:
                raise InputError(expected("--control without --ratio (the control is not pruned)",
                                          f"--ratio {args.ratio}", "--ratio"))
            if args.data is None or args.epochs < 1:
                raise InputError(expected("--data and --epochs >= 1 for the control", "none", "--control"))
            rec = finetune_control(args.model, out=args.out, data_yaml=args.data, epochs=args.epochs,
                                   imgsz=args.imgsz, batch=args.batch, device=args.device)
            print(f"{args.out}: {args.model} fine-tuned {rec['finetune']['epochs']} epochs, unpruned (control)")
            return 0
        if args.ratio is None:
            raise InputError(expected("--ratio (e.g. 0.30) or --control", "neither", "--ratio"))
        info = prune_and_finetune(
            args.model, args.ratio, out=args.out, data_yaml=args.data, epochs=args.epochs,
            imgsz=args.imgsz, batch=args.batch, device=args.device, round_to=args.round_to,
            distill=args.distill,
        )
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{args.out}: params {info['params_before']:,} -> {info['params_after']:,}, "
        f"GMACs@{info['example_imgsz']} {info['gmacs_before']} -> {info['gmacs_after']}, "
        f"fine-tuned {args.epochs} epochs{' with distillation' if args.distill and args.epochs else ''}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
