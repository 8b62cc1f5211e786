"""INT8 on ONNX Runtime CPU: bench's INT8 vs Ultralytics' own ``quantize=8`` ONNX export, vs FP32, in one run.

Three ONNX files of the same model and input size:

* ``fp32``            -- bench's ``fp32`` variant: Ultralytics' exporter plus the exact DFL rewrite
                         (see benchmarks/dfl_rewrite.py; bench's INT8 inherits it, Ultralytics' does not);
* ``bench int8``      -- bench's ``int8`` variant: QDQ, activations QUInt8 + weights QInt8 per-channel,
                         Detect head decode left float, calibrated on train images;
* ``ultralytics int8`` -- ``YOLO(pt).export(format="onnx", quantize=8, data=...)``: ONNX Runtime static
                         quantization of Conv/Gemm/MatMul with its defaults (QInt8 activations and weights).

Speed: one ONNX Runtime CPU session per file with identical options, the same letterboxed val
image, warm-up, then interleaved rounds (so background load hits all files alike); the median
latency and the FP32/INT8 ratio are printed. Accuracy: mAP50-95 and mAP50 of each file on the
dataset's val split through Ultralytics' own validator (same evaluation for all three). Agreement:
the share of FP32's detections (conf 0.25) each file reproduces (same class, IoU >= 0.5) and their
mean IoU, on 50 val images through bench's own pre/postprocess and scorer.

Usage::

    python benchmarks/int8_vs_ultralytics.py                                  # shipped yolo11n, synthetic data
    python benchmarks/int8_vs_ultralytics.py --model yolo12n.pt --data data.yaml --imgsz 320 --threads 2

Not part of the test suite: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")


def default_model() -> Path:
    from harness.reference import MODELS_DIR

    return Path(MODELS_DIR) / "yolo11n.pt"


def default_data() -> Path:
    from harness.data.synth import ensure_dataset

    return Path(ensure_dataset()) / "data.yaml"


def val_image(data_yaml: Path, imgsz: int):
    """The first val image, letterboxed exactly as inference does (a fixed, realistic input)."""
    import yaml

    from exporters.calibration import IMAGE_SUFFIXES, load_tensor

    data = yaml.safe_load(Path(data_yaml).read_text())
    root = Path(data.get("path") or Path(data_yaml).parent)
    root = root if root.is_absolute() else (Path(data_yaml).parent / root)
    val = root / str(data["val"])
    first = sorted(p for p in val.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[0]
    return load_tensor(first, imgsz)


def time_sessions(paths: dict[str, Path], x, *, runs: int, threads: int | None, rounds: int = 10) -> dict[str, float]:
    """Median latency (ms) per model, measured in interleaved rounds on identical ORT sessions."""
    import onnxruntime as ort

    sessions = {}
    for name, path in paths.items():
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        sessions[name] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {name: {s.get_inputs()[0].name: x} for name, s in sessions.items()}
    for name, session in sessions.items():  # warm-up
        for _ in range(10):
            session.run(None, feeds[name])
    samples: dict[str, list[float]] = {name: [] for name in sessions}
    per_round = max(1, runs // rounds)
    for _ in range(rounds):
        for name, session in sessions.items():
            for _ in range(per_round):
                start = time.perf_counter()
                session.run(None, feeds[name])
                samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def val_images(data_yaml: Path, n: int) -> list[Path]:
    """The first ``n`` val images (sorted)."""
    import yaml

    from exporters.calibration import IMAGE_SUFFIXES

    data = yaml.safe_load(Path(data_yaml).read_text())
    root = Path(data.get("path") or Path(data_yaml).parent)
    root = root if root.is_absolute() else (Path(data_yaml).parent / root)
    return sorted(p for p in (root / str(data["val"])).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:n]


def agreement_with(reference: str, paths: dict[str, Path], data_yaml: Path, imgsz: int, *, n: int = 50) -> dict:
    """Per model: recall of the reference model's detections (IoU >= 0.5, same class) and their mean IoU.

    Uses the harness's own preprocess, postprocess (conf 0.25, NMS 0.7) and scorer, on ``n`` val images.
    """
    import cv2
    import onnxruntime as ort

    from harness.pipeline.postprocess import postprocess
    from harness.pipeline.preprocess import preprocess
    from harness.scorer import agreement

    dets: dict[str, list] = {name: [] for name in paths}
    sessions = {name: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for name, p in paths.items()}
    for image_path in val_images(data_yaml, n):
        x, info = preprocess(cv2.imread(str(image_path)), imgsz)
        for name, session in sessions.items():
            raw = session.run(None, {session.get_inputs()[0].name: x})[0]
            dets[name].append(postprocess(raw, info, conf=0.25))
    return {name: agreement(dets[reference], d, conf=0.25) for name, d in dets.items()}


def val_map(path: Path, data_yaml: Path, imgsz: int) -> tuple[float, float]:
    """(mAP50-95, mAP50) of an ONNX model on the val split, through Ultralytics' validator."""
    from ultralytics import YOLO

    from exporters.source import quiet_ultralytics

    with quiet_ultralytics(), tempfile.TemporaryDirectory() as tmp:
        metrics = YOLO(str(path), task="detect").val(
            data=str(data_yaml), imgsz=imgsz, batch=1, device="cpu", plots=False, verbose=False,
            project=tmp, name="val", workers=0,
        )
    return float(metrics.box.map), float(metrics.box.map50)


def ultralytics_int8(model: Path, data_yaml: Path, imgsz: int, workdir: Path) -> Path:
    """Ultralytics' own INT8 ONNX export (written into workdir, not beside the model)."""
    from ultralytics import YOLO

    from exporters.source import quiet_ultralytics

    local = workdir / model.name
    shutil.copyfile(model, local)
    with quiet_ultralytics():
        out = YOLO(str(local)).export(format="onnx", quantize=8, data=str(data_yaml), imgsz=imgsz, device="cpu")
    return Path(out)


def print_table(rows: list[dict]) -> None:
    header = (f"{'variant':<18} {'MB':>6} {'median ms':>10} {'speed vs fp32':>14} {'mAP50-95':>9} {'drop pts':>9} "
              f"{'mAP50':>7} {'agree':>6} {'IoU':>6}")
    print(header)
    print("-" * len(header))
    base = rows[0]
    for r in rows:
        speed = base["ms"] / r["ms"]
        if r.get("map") is None:
            acc = f"{'-':>9} {'-':>9} {'-':>7}"
        else:
            acc = f"{r['map']:>9.3f} {100 * (base['map'] - r['map']):>9.2f} {r['map50']:>7.3f}"
        agree = r["agree"]
        print(f"{r['name']:<18} {r['mb']:>6.1f} {r['ms']:>10.2f} {speed:>13.2f}x {acc} "
              f"{_pct(agree.recall):>6} {_num(agree.mean_iou):>6}")


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None, help="Ultralytics .pt (default: the shipped yolo11n)")
    p.add_argument("--data", type=Path, default=None, help="dataset YAML (default: the synthetic dataset)")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--calib-images", type=int, default=200)
    p.add_argument("--calib-method", default="percentile")
    p.add_argument("--runs", type=int, default=200, help="timed runs per model")
    p.add_argument("--threads", type=int, default=None, help="ORT intra-op threads (default: ORT's choice)")
    p.add_argument("--skip-map", action="store_true", help="speed only")
    p.add_argument("--skip-ultralytics", action="store_true", help="do not build Ultralytics' INT8 export")
    p.add_argument("--cache", type=Path, default=None, help="bench cache directory")
    args = p.parse_args(argv)

    import onnxruntime as ort
    import ultralytics

    from exporters.build import build_variant

    model = args.model or default_model()
    data = args.data or default_data()
    if not Path(model).is_file():
        print(f"no model at {model}: pass --model", file=sys.stderr)
        return 2
    print(f"model {model}  data {data}  imgsz {args.imgsz}  onnxruntime {ort.__version__}  "
          f"ultralytics {ultralytics.__version__}  {platform.processor() or platform.machine()}  "
          f"threads {args.threads or 'default'}")
    fp32 = build_variant(model, "fp32", cache_dir=args.cache, imgsz=args.imgsz)
    ours = build_variant(model, "int8", cache_dir=args.cache, imgsz=args.imgsz, data_yaml=data,
                         calib_images=args.calib_images, options={"calib_method": args.calib_method})
    paths = {"fp32": fp32.path, "bench int8": ours.path}
    with tempfile.TemporaryDirectory(prefix="bench-ul-int8-") as tmp:
        if not args.skip_ultralytics:
            paths["ultralytics int8"] = ultralytics_int8(Path(model), data, args.imgsz, Path(tmp))
        x = val_image(data, args.imgsz)
        ms = time_sessions(paths, x, runs=args.runs, threads=args.threads)
        agree = agreement_with("fp32", paths, data, args.imgsz)
        rows = []
        for name, path in paths.items():
            row = {"name": name, "mb": path.stat().st_size / 1e6, "ms": ms[name], "map": None, "agree": agree[name]}
            if not args.skip_map:
                row["map"], row["map50"] = val_map(path, data, args.imgsz)
            rows.append(row)
    print_table(rows)
    q = ours.manifest["quantization"]
    print(f"bench int8: {q['activation_type']} activations, {q['weight_type']} per-channel weights, "
          f"{q['calibration']['image_count']} train images ({q['method']}), {len(q['excluded_nodes'])} decode nodes float")
    return 0


if __name__ == "__main__":
    sys.exit(main())
