"""Structured pruning on ONNX Runtime CPU: params, GFLOPs, latency and mAP of prunedNN vs FP32, in one run.

Rows: ``fp32`` and ``prunedNN`` (both FP32 ONNX through Ultralytics' exporter), plus ``int8`` and
``prunedNN-int8`` unless ``--no-int8``. The pruned checkpoint is either given (``--pruned``, e.g. the
shipped ``yolo11n-pruned30.pt``) or made here (prune + ``--epochs`` of fine-tuning on the train split).
Params and GFLOPs are counted from each ONNX graph; latency is the median of interleaved rounds
on identical sessions; mAP comes from Ultralytics' validator on the val split; "agree" is the share
of FP32's detections each row reproduces (bench's scorer, 50 val images). A pruned model
that is not faster on this runtime shows a ratio near 1.0x: that is the honest result.

Usage::

    python benchmarks/pruned_vs_fp32.py --pruned harness/reference/models/yolo11n-pruned30.pt
    python benchmarks/pruned_vs_fp32.py --model yolo11n.pt --data data.yaml --ratio 30 --epochs 30

Not part of the test suite: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from int8_vs_ultralytics import (  # noqa: E402
    _num, _pct, agreement_with, default_data, default_model, time_sessions, val_image, val_map,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None, help="source Ultralytics .pt (default: the shipped yolo11n)")
    p.add_argument("--pruned", type=Path, default=None, help="an already pruned + fine-tuned .pt of that model")
    p.add_argument("--ratio", type=int, default=30, help="percent of channels removed (default 30)")
    p.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs when pruning here")
    p.add_argument("--data", type=Path, default=None, help="dataset YAML (default: the synthetic dataset)")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-int8", action="store_true", help="skip the int8 and pruned-int8 rows")
    p.add_argument("--skip-map", action="store_true")
    p.add_argument("--cache", type=Path, default=None)
    args = p.parse_args(argv)

    import platform

    import onnxruntime as ort

    from exporters.build import build_variant
    from exporters.spec import parse_variant

    model = args.model or default_model()
    data = args.data or default_data()
    if args.pruned is None and model == default_model():
        shipped = model.with_name(f"{model.stem}-pruned{args.ratio}.pt")
        args.pruned = shipped if shipped.is_file() else None
    print(f"model {model}  pruned {args.pruned or f'(made here, {args.epochs} epochs)'}  imgsz {args.imgsz}  "
          f"onnxruntime {ort.__version__}  {platform.processor() or platform.machine()}  threads {args.threads or 'default'}")
    names = ["fp32", f"pruned{args.ratio}"] + ([] if args.no_int8 else ["int8", f"pruned{args.ratio}-int8"])
    arts = {}
    for name in names:
        arts[name] = build_variant(model, parse_variant(name), cache_dir=args.cache, imgsz=args.imgsz, data_yaml=data,
                                   options={"pruned_source": args.pruned, "finetune_epochs": args.epochs})
    x = val_image(data, args.imgsz)
    ms = time_sessions({n: a.path for n, a in arts.items()}, x, runs=args.runs, threads=args.threads)
    agree = agreement_with("fp32", {n: a.path for n, a in arts.items()}, data, args.imgsz)
    header = (f"{'variant':<16} {'params':>10} {'GFLOPs':>7} {'median ms':>10} {'speed vs fp32':>14} {'mAP50-95':>9} "
              f"{'drop pts':>9} {'agree':>6} {'IoU':>6}")
    print(header)
    print("-" * len(header))
    base_map = None
    for name, art in arts.items():
        m = art.manifest
        acc = f"{'-':>9} {'-':>9}"
        if not args.skip_map:
            value, _ = val_map(art.path, data, args.imgsz)
            base_map = value if base_map is None else base_map
            acc = f"{value:>9.3f} {100 * (base_map - value):>9.2f}"
        print(f"{name:<16} {m['params']:>10,} {m['gflops']:>7.3f} {ms[name]:>10.2f} {ms['fp32'] / ms[name]:>13.2f}x {acc} "
              f"{_pct(agree[name].recall):>6} {_num(agree[name].mean_iou):>6}")
    pruning = arts[f"pruned{args.ratio}"].manifest.get("pruning") or {}
    tune = pruning.get("finetune") or {}
    print(f"pruning: {pruning.get('ratio')} of channels, round_to {pruning.get('round_to')}, "
          f"ignored {', '.join(pruning.get('ignored', []))}; fine-tuned {tune.get('epochs')} epochs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
