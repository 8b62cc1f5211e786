"""On-device smoke test of the TensorRT builder: build each engine, run it, compare with ONNX Runtime FP32.

Run on the Jetson / GPU machine (this cannot run without an NVIDIA GPU)::

    python -m exporters.trt_smoke --model yolo11n.pt --data data.yaml --imgsz 320
    python -m exporters.trt_smoke --model yolo11n.pt --data data.yaml --variants fp16 int8 --dla-core 0

For every variant it prints one line: the engine file, whether it came from the cache, its size,
the build time, and -- when ``devices.runtimes.tensorrt`` can run it -- how far the engine's
output is from the FP32 ONNX output on one letterboxed train image (largest class-score
difference, mean box IoU over the 100 anchors FP32 scores highest). Exit 0 when every engine
was built, 2 on the first failure (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from common.errors import BenchError


def _compare(engine: Path, fp32_onnx: Path, x) -> str:
    import numpy as np
    import onnxruntime as ort

    try:
        from devices.runtimes.tensorrt import TensorRTSession
    except ImportError as exc:
        return f"not run ({exc})"
    session = TensorRTSession(engine)
    try:
        got = session.run(x)[0]
    finally:
        session.close()
    ref = ort.InferenceSession(str(fp32_onnx), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
    scores_ref, scores = ref[0, 4:], got[0, 4:]
    top = np.argsort(-scores_ref.max(0))[:100]
    a, b = ref[0, :4, top].T, got[0, :4, top].T

    def corners(v):
        return v[0] - v[2] / 2, v[1] - v[3] / 2, v[0] + v[2] / 2, v[1] + v[3] / 2

    ax0, ay0, ax1, ay1 = corners(a)
    bx0, by0, bx1, by1 = corners(b)
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    iou = inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)
    return f"max |score diff| {np.abs(scores - scores_ref).max():.4f}, mean top-100 box IoU {iou.mean():.4f}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m exporters.trt_smoke``."""
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    p = argparse.ArgumentParser(prog="python -m exporters.trt_smoke", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path, help="dataset YAML (train images calibrate INT8)")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--variants", nargs="+", default=["fp32", "fp16", "int8"])
    p.add_argument("--calibrator", action="store_true", help="also build INT8 with the entropy calibrator")
    p.add_argument("--dla-core", type=int, default=None)
    p.add_argument("--workspace", type=int, default=1024)
    p.add_argument("--cache", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        from exporters.build import build_variant
        from exporters.calibration import load_tensor, select_calibration_images
        from exporters.spec import parse_variant

        x = load_tensor(select_calibration_images(args.data, count=1).files[0], args.imgsz)
        fp32 = build_variant(args.model, "fp32", cache_dir=args.cache, imgsz=args.imgsz)
        jobs = [(v, "qdq") for v in args.variants] + ([("int8", "calibrator")] if args.calibrator else [])
        for variant, mode in jobs:
            art = build_variant(args.model, parse_variant(variant, fmt="trt"), cache_dir=args.cache, imgsz=args.imgsz,
                                data_yaml=args.data, options={"trt_int8_mode": mode, "dla_core": args.dla_core,
                                                                "workspace_mib": args.workspace})
            section = art.manifest["tensorrt"]
            print(f"{variant:<14} {mode if variant.endswith('int8') else '':<10} {art.path.name}  "
                  f"{'cached' if art.reused else 'built'}  {art.manifest['artifact']['size_bytes'] / 1e6:.1f} MB  "
                  f"build {section['engine_build_seconds']} s  TensorRT {section['version']}  "
                  f"{_compare(art.path, fp32.path, x)}", flush=True)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
