"""OpenVINO INT8 (bench's NNCF recipe) vs ONNX Runtime FP32/INT8 vs Ultralytics' OpenVINO INT8, in one run.

For each model (default: the shipped yolo11n and yolo12n), the same input size and val split:

* ``ort fp32``       -- bench's ``fp32`` ONNX on ONNX Runtime (the reference of every ratio and drop);
* ``ort int8``       -- bench's ``int8`` (QDQ, :mod:`exporters.int8`) on ONNX Runtime;
* ``ov fp32``        -- the same FP32 ONNX on OpenVINO, inference precision f32;
* ``ov int8``        -- bench's OpenVINO INT8 recipe (:mod:`exporters.openvino_int8`: NNCF, same calibration
                        images and letterbox as ``ort int8``, decode float), f32 for what stays float;
                        always without the float stride-8 block (bench's build for YOLO12);
* ``ov int8 p3``     -- the same with the stride-8 neck block float (``--p3``; bench's build for YOLO11);
* ``ov int8 mixed``  -- the same with NNCF's mixed preset (``--mixed``: asymmetric activations, Ultralytics' choice);
* ``ultralytics ov int8`` -- ``YOLO(pt).export(format="openvino", int8=True, data=...)``, run in the same
                        OpenVINO session settings; it calibrates on the dataset's val split by default,
                        i.e. on the very images it is then scored on;
* ``ultralytics ov int8 train`` -- the same export with ``split="train"``: calibrated on train images
                        as bench's INT8 is (the like-for-like peer; NNCF's default 300-sample subset);
* ``ov bf16``        -- the FP32 ONNX with OpenVINO's bf16 hint (its default on CPUs with native BF16;
                        labelled as bf16, never as FP32), where the CPU has BF16.

Speed: one session per row at each thread count (``--threads 1,2``), the same letterboxed val image,
warm-up, then ``--rounds`` interleaved rounds of ``--per-round`` runs each, so background load hits
every row alike; printed: the median inference latency and the ratio of medians against ``ort fp32``
(speed ratio > 1 = faster), plus the spread of the per-round ratios. Accuracy: every val image through
bench's own pipeline (letterbox, decode, NMS at conf 0.001 / IoU 0.7 / max 300) and scorer; mAP50-95
and the drop against ``ort fp32`` with a paired bootstrap 95% interval over images.

If ``/work/scratch/train.pid`` (or ``--pause-pid``) names a running process, it is stopped
(``SIGSTOP``) while timing and continued (``SIGCONT``) right after, even on failure.

Usage::

    python benchmarks/openvino_int8.py                                   # yolo11n and yolo12n, 320 px
    python benchmarks/openvino_int8.py --models yolo12n --p3 --threads 1,2 --rounds 20

Not part of the test suite: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")

PAUSE_PID_FILE = Path("/work/scratch/train.pid")


def default_data() -> Path:
    from harness.data.synth import ensure_dataset

    return Path(ensure_dataset()) / "data.yaml"


@contextlib.contextmanager
def paused(pid: int | None):
    """SIGSTOP ``pid`` (a background job) for the duration; SIGCONT it afterwards, always."""
    if pid is None:
        yield
        return
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        yield
        return
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def pause_pid(arg: str | None) -> int | None:
    text = arg if arg is not None else (PAUSE_PID_FILE.read_text().strip() if PAUSE_PID_FILE.is_file() else "")
    return int(text) if text.isdigit() else None


# ----------------------------------------------------------------------------------------- artifacts

def build_rows(model: Path, data: Path, *, imgsz: int, calib_images: int, cache: Path | None, work: Path,
               p3: bool, mixed: bool, ultralytics: bool) -> dict[str, tuple[str, Path, str]]:
    """Row name -> (runtime, artifact, precision)."""
    from exporters.build import build_variant
    from exporters.calibration import ImageCalibrationReader, select_calibration_images
    from exporters.openvino_int8 import quantize_openvino_int8
    from exporters.source import inspect_source

    fp32 = build_variant(model, "fp32", cache_dir=cache, imgsz=imgsz)
    int8 = build_variant(model, "int8", cache_dir=cache, imgsz=imgsz, data_yaml=data, calib_images=calib_images)
    family = inspect_source(model).family
    calib = select_calibration_images(data, count=calib_images)
    rows = {"ort fp32": ("onnxruntime", fp32.path, "fp32"), "ort int8": ("onnxruntime", int8.path, "int8"),
            "ov fp32": ("openvino", fp32.path, "fp32")}
    for name, float_p3, preset in (("ov int8", False, "performance"), ("ov int8 p3", True, "performance"),
                                   ("ov int8 mixed", False, "mixed")):
        if (name.endswith("p3") and not p3) or (name.endswith("mixed") and not mixed):
            continue
        out = work / f"{model.stem}-{name.replace(' ', '-')}-{imgsz}-{calib.digest[:12]}.xml"
        rows[name] = ("openvino", out, "int8")
        if out.is_file() and out.with_suffix(".bin").is_file():
            print(f"  {name}: reusing {out} (--work)")
            continue
        start = time.monotonic()
        record = quantize_openvino_int8(fp32.path, out, ImageCalibrationReader(calib.files, imgsz=imgsz),
                                        family=family, float_p3=float_p3, preset=preset)
        print(f"  {name}: NNCF {time.monotonic() - start:.0f} s, {record['fake_quantize_ops']} FakeQuantize, "
              f"{len(record['ignored_scope'])} ops float, float block {record['float_block']}", flush=True)
    if ultralytics:
        rows["ultralytics ov int8"] = ("openvino", ultralytics_openvino_int8(model, data, imgsz, work), "int8")
        rows["ultralytics ov int8 train"] = ("openvino", ultralytics_openvino_int8(model, data, imgsz, work, split="train"),
                                             "int8")
    from devices.runtimes.openvino import cpu_capabilities

    if "BF16" in cpu_capabilities():
        rows["ov bf16"] = ("openvino", fp32.path, "bf16")
    else:
        print("  ov bf16: skipped (OpenVINO's CPU capabilities have no BF16: it would be emulated)")
    return rows


def ultralytics_openvino_int8(model: Path, data: Path, imgsz: int, work: Path, split: str | None = None) -> Path:
    """Ultralytics' own OpenVINO INT8 export (NNCF too), written into ``work`` (its own folder per ``split``).

    ``split`` None is Ultralytics' default (the val split); ``"train"`` calibrates on train images, as bench does.
    """
    from ultralytics import YOLO

    from exporters.source import quiet_ultralytics

    label = "ultralytics ov int8" + (f" {split}" if split else "")
    base = work / (split or "default")
    base.mkdir(parents=True, exist_ok=True)
    local = base / model.name
    done = base / f"{model.stem}_int8_openvino_model"
    if split is None and not done.is_dir() and (work / done.name).is_dir():  # a --work folder from before splits
        done = work / done.name
    if done.is_dir() and any(done.glob("*.xml")):
        print(f"  {label}: reusing {done} (--work)")
        return next(done.glob("*.xml"))
    shutil.copyfile(model, local)
    start = time.monotonic()
    extra = {"split": split} if split else {}
    with quiet_ultralytics():
        out = Path(YOLO(str(local)).export(format="openvino", int8=True, data=str(data), imgsz=imgsz, device="cpu",
                                           **extra))
    print(f"  {label}: export {time.monotonic() - start:.0f} s", flush=True)
    return next(out.glob("*.xml")) if out.is_dir() else out


def open_row(runtime: str, path: Path, precision: str, threads: int):
    from devices.profiles import load_profile
    from devices.runtimes.onnxrt import OrtSession
    from devices.runtimes.openvino import OpenVINOSession

    if runtime == "onnxruntime":
        return OrtSession(path, profile=load_profile("cpu"), threads=threads)
    return OpenVINOSession(path, threads=threads, precision=precision)


# ----------------------------------------------------------------------------------------- speed

def time_rows(rows: dict, x, *, threads: int, rounds: int, per_round: int) -> dict[str, list[list[float]]]:
    """Per row, per round, the inference latencies (ms); rows interleaved round by round."""
    sessions = {name: open_row(*spec, threads=threads) for name, spec in rows.items()}
    for session in sessions.values():  # warm-up
        for _ in range(10):
            session.run(x)
    samples: dict[str, list[list[float]]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            times = []
            for _ in range(per_round):
                start = time.perf_counter()
                session.run(x)
                times.append((time.perf_counter() - start) * 1000)
            samples[name].append(times)
    for session in sessions.values():
        session.close()
    return samples


def speed_table(samples: dict[str, list[list[float]]], reference: str) -> dict[str, dict]:
    """Median latency, ratio of medians against ``reference`` and the spread of per-round ratios."""
    ref_all = [t for r in samples[reference] for t in r]
    ref_median = statistics.median(ref_all)
    out = {}
    for name, rounds in samples.items():
        flat = [t for r in rounds for t in r]
        per_round = [statistics.median(a) / statistics.median(b) for a, b in zip(samples[reference], rounds)]
        out[name] = {"median_ms": statistics.median(flat), "ratio": ref_median / statistics.median(flat),
                     "round_lo": min(per_round), "round_hi": max(per_round)}
    return out


# -------------------------------------------------------------------------------------- accuracy

def score_rows(rows: dict, dataset, *, imgsz: int, threads: int, bootstrap: int, reference: str) -> dict[str, dict]:
    """mAP50-95 / mAP50 of each row on the val split and the paired-bootstrap drop against ``reference``."""
    import cv2

    from harness.metrics import bootstrap_map_drop, evaluate_coco
    from harness.pipeline.runner import Pipeline
    from harness.scorer import agreement, coco_inputs

    truth = dataset.items
    images = [cv2.imread(str(item.path), cv2.IMREAD_COLOR) for item in truth]
    results, dets = {}, {}
    for name, spec in rows.items():
        session = open_row(*spec, threads=threads)
        pipe = Pipeline(session, imgsz=imgsz, nc=len(dataset.names), conf=0.001, iou=0.7, max_det=300)
        dets[name] = [pipe(image) for image in images]
        session.close()
        gt, dt = coco_inputs(truth, dets[name], dataset.names)
        results[name] = evaluate_coco(gt, dt, iou_type="bbox")
    out = {}
    for name, result in results.items():
        row = {"map": float(result.stats[0]), "map50": float(result.stats[1])}
        if name != reference:
            ci = bootstrap_map_drop(results[reference], result, n_resamples=bootstrap, seed=0)
            row.update(drop=100 * ci.estimate, lo=100 * ci.low, hi=100 * ci.high)
            agr = agreement(dets[reference], dets[name], conf=0.25)
            row["agree"] = agr.recall
        out[name] = row
    return out


# ------------------------------------------------------------------------------------------- main

def print_model(model: str, rows: dict, speed: dict[int, dict], acc: dict | None) -> None:
    threads = sorted(speed)
    w = max(20, *(len(name) for name in rows))
    head = f"{'row':<{w}} {'MB':>5}" + "".join(f" {f'ms@{t}':>7} {f'x fp32@{t}':>9} {'rounds':>11}" for t in threads)
    head += f" {'mAP50-95':>9} {'drop pts [95% CI]':>21} {'agree':>6}"
    print(f"\n{model}")
    print(head)
    print("-" * len(head))
    for name, (_, path, _) in rows.items():
        size = path.stat().st_size + (path.with_suffix(".bin").stat().st_size if path.suffix == ".xml" else 0)
        line = f"{name:<{w}} {size / 1e6:>5.1f}"
        for t in threads:
            s = speed[t][name]
            line += f" {s['median_ms']:>7.2f} {s['ratio']:>8.2f}x {s['round_lo']:>5.2f}-{s['round_hi']:<5.2f}"
        if acc is not None:
            a = acc[name]
            drop = "reference" if "drop" not in a else f"{a['drop']:+.2f} [{a['lo']:+.2f}, {a['hi']:+.2f}]"
            agree = "" if "agree" not in a else f"{100 * a['agree']:.1f}%"
            line += f" {a['map']:>9.4f} {drop:>21} {agree:>6}"
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="yolo11n,yolo12n", help="shipped model names or .pt paths, comma-separated")
    p.add_argument("--data", type=Path, default=None, help="dataset YAML (default: the synthetic dataset)")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--calib-images", type=int, default=200)
    p.add_argument("--threads", default="1,2", help="thread counts to time, comma-separated")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--per-round", type=int, default=10)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--p3", action="store_true", help="also the INT8 with the stride-8 neck block float")
    p.add_argument("--mixed", action="store_true", help="also the INT8 with NNCF's mixed preset (asymmetric activations)")
    p.add_argument("--skip-map", action="store_true")
    p.add_argument("--skip-ultralytics", action="store_true")
    p.add_argument("--pause-pid", default=None, help=f"process to SIGSTOP while timing (default: {PAUSE_PID_FILE})")
    p.add_argument("--cache", type=Path, default=None, help="bench cache directory")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    p.add_argument("--work", type=Path, default=None,
                   help="keep the OpenVINO INT8 IRs and Ultralytics' export here and reuse them (default: a temporary folder)")
    args = p.parse_args(argv)

    import nncf
    import onnxruntime as ort
    import openvino
    import ultralytics

    from exporters.calibration import load_tensor
    from harness.data.yolo import load_yolo_dataset
    from harness.reference import MODELS_DIR

    data = args.data or default_data()
    threads = [int(t) for t in args.threads.split(",")]
    pid = pause_pid(args.pause_pid)
    print(f"data {data}  imgsz {args.imgsz}  onnxruntime {ort.__version__}  openvino {openvino.__version__}  "
          f"nncf {nncf.__version__}  ultralytics {ultralytics.__version__}  {platform.machine()}  "
          f"{os.cpu_count()} cpus  rounds {args.rounds}x{args.per_round}  pause pid {pid}")
    dataset = load_yolo_dataset(data, split="val")
    figures = {}
    for name in args.models.split(","):
        model = Path(name) if name.endswith(".pt") else Path(MODELS_DIR) / f"{name}.pt"
        with contextlib.ExitStack() as stack:
            tmp = args.work or stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ov-int8-"))
            Path(tmp).mkdir(parents=True, exist_ok=True)
            rows = build_rows(model, data, imgsz=args.imgsz, calib_images=args.calib_images, cache=args.cache,
                              work=Path(tmp), p3=args.p3, mixed=args.mixed,
                              ultralytics=not args.skip_ultralytics)
            x = load_tensor(dataset.items[0].path, args.imgsz)
            speed = {}
            for t in threads:
                with paused(pid):
                    samples = time_rows(rows, x, threads=t, rounds=args.rounds, per_round=args.per_round)
                speed[t] = speed_table(samples, "ort fp32")
            acc = None if args.skip_map else score_rows(rows, dataset, imgsz=args.imgsz, threads=max(threads),
                                                        bootstrap=args.bootstrap, reference="ort fp32")
            print_model(f"{model.stem}: {len(dataset)} val images, {args.calib_images} calibration images", rows,
                        speed, acc)
            figures[model.stem] = {"rows": {k: [v[0], v[1].name, v[2]] for k, v in rows.items()},
                                   "speed": {str(t): v for t, v in speed.items()}, "accuracy": acc}
    if args.json is not None:
        from common.atomic import write_json_atomic

        write_json_atomic(args.json, {"argv": sys.argv[1:], "versions": {"onnxruntime": ort.__version__,
                          "openvino": openvino.__version__, "nncf": nncf.__version__,
                          "ultralytics": ultralytics.__version__}, "models": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
