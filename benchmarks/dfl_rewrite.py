"""bench's FP32 export vs Ultralytics' stock ONNX export of the same model: same numbers, how much faster.

bench's ``fp32`` variant is Ultralytics' ONNX export plus one exact rewrite
(:func:`exporters.onnx_export.rewrite_dfl_softmax`): the DFL softmax runs over the last axis and
its fixed 0..15 convolution becomes a MatMul. ONNX Runtime's CPU Softmax over a non-last axis
transposes internally on one thread, which is 12-14% of a yolo11n frame at 320 px.

This script exports the model both ways (Ultralytics' ``YOLO(pt).export(format="onnx")`` with the
same opset, simplification and input size as bench), checks the outputs on a val image, then times
both in interleaved rounds on identical ONNX Runtime sessions, once per thread count, and prints
the median latencies and the ratio. The INT8 variant is derived from the rewritten FP32 graph, so
it gains the same milliseconds.

Usage::

    python benchmarks/dfl_rewrite.py                                 # shipped yolo11n, 1 and 2 threads
    python benchmarks/dfl_rewrite.py --model yolo12n.pt --threads 1 2 4

Not part of the test suite: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from int8_vs_ultralytics import default_data, default_model, time_sessions, val_image  # noqa: E402


def stock_export(model: Path, imgsz: int, workdir: Path) -> Path:
    """Ultralytics' own FP32 ONNX export with bench's settings (written into workdir)."""
    from ultralytics import YOLO

    from exporters.onnx_export import OPSET
    from exporters.source import quiet_ultralytics

    local = workdir / model.name
    shutil.copyfile(model, local)
    with quiet_ultralytics():
        out = YOLO(str(local)).export(format="onnx", imgsz=imgsz, opset=OPSET, simplify=True, dynamic=False,
                                      batch=1, device="cpu")
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None, help="an Ultralytics .pt (default: the shipped yolo11n)")
    p.add_argument("--data", type=Path, default=None, help="data.yaml whose first val image is the input")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="ORT intra-op thread counts to try")
    p.add_argument("--runs", type=int, default=300, help="timed runs per model and thread count")
    p.add_argument("--cache", type=Path, default=None, help="bench cache directory")
    args = p.parse_args(argv)

    import numpy as np
    import onnxruntime as ort
    import ultralytics

    from exporters.build import build_variant

    model = args.model or default_model()
    if not Path(model).is_file():
        print(f"no model at {model}: pass --model", file=sys.stderr)
        return 2
    data = args.data or default_data()
    print(f"model {model}  imgsz {args.imgsz}  onnxruntime {ort.__version__}  ultralytics {ultralytics.__version__}  "
          f"{platform.processor() or platform.machine()}  {os.cpu_count()} CPUs")
    ours = build_variant(model, "fp32", cache_dir=args.cache, imgsz=args.imgsz)
    if ours.manifest.get("onnx", {}).get("rewrites") != ["dfl-softmax-last-axis"]:
        print("bench's FP32 export carries no DFL rewrite (unexpected for an Ultralytics .pt)", file=sys.stderr)
        return 1
    x = val_image(data, args.imgsz)
    with tempfile.TemporaryDirectory(prefix="bench-dfl-") as tmp:
        paths = {"ultralytics fp32": stock_export(Path(model), args.imgsz, Path(tmp)), "bench fp32": ours.path}
        outs = {name: ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
                for name, path in paths.items()}
        diff = float(np.abs(outs["bench fp32"] - outs["ultralytics fp32"]).max())
        print(f"outputs on a val image: max |difference| {diff:.2e} over {outs['bench fp32'].size} values "
              f"(boxes in pixels, scores in 0..1)")
        print(f"{'threads':>7} {'ultralytics ms':>15} {'bench ms':>9} {'speed ratio':>12}")
        for threads in args.threads:
            ms = time_sessions(paths, x, runs=args.runs, threads=threads, rounds=12)
            stock, mine = ms["ultralytics fp32"], ms["bench fp32"]
            print(f"{threads:>7} {stock:>15.2f} {mine:>9.2f} {stock / mine:>11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
