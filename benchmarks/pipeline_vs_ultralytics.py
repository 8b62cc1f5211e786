"""bench's measured pipeline vs Ultralytics' own ``YOLO(model.onnx).predict`` on the same frames.

Both sides get the same ONNX file, the same in-memory BGR frames (decoding from file is excluded
for both: frames are generated once, before timing), the same input size, confidence and NMS IoU,
and ONNX Runtime's default CPU thread settings. Per frame, each side does its whole job: letterbox,
inference, decode + NMS + boxes back in image pixels (bench: :class:`harness.pipeline.runner.Pipeline`;
Ultralytics: ``predict``, which also builds its ``Results``). Rounds alternate A B B A so that drift
of a shared machine hits both sides alike. The script also checks that both find the same
detections (same count and classes per frame, every box within 1e-3 IoU) and exits 1 if not.

Run::

    python benchmarks/pipeline_vs_ultralytics.py               # reference model if shipped, else random weights
    python benchmarks/pipeline_vs_ultralytics.py --onnx m.onnx --imgsz 640 --frames 40 --rounds 6

Prints per-frame latency (median and mean) of both sides, the ratio (target: bench >= 1.5x faster),
and bench's pipelined throughput (pre/post overlapped with inference on threads), which Ultralytics'
predict has no equivalent of, so it is printed against Ultralytics' sequential throughput and
labelled as such.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def prepare_onnx(out_dir: Path, *, imgsz: int | None = None) -> tuple[Path, int, str]:
    """Export the model to benchmark: the shipped reference model when it exists, else ``yolo11n.yaml``
    with random weights and class biases raised so that frames have detections.

    Returns:
        ``(onnx_path, imgsz, description)``.
    """
    from ultralytics import YOLO

    from harness.errors import InputError
    from harness.reference import reference_model

    try:
        ref = reference_model()
    except InputError:
        ref = None
    if ref is not None:
        pt = out_dir / ref.weights.name
        shutil.copy(ref.weights, pt)  # export writes beside the .pt: keep the checkout clean
        size = imgsz or ref.imgsz
        path = YOLO(str(pt)).export(format="onnx", imgsz=size, simplify=True, dynamic=False, verbose=False)
        return Path(path), size, f"reference {ref.name} (trained on the synthetic set), imgsz {size}"
    import torch

    size = imgsz or 320
    torch.manual_seed(0)
    model = YOLO("yolo11n.yaml")
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for conv in model.model.model[-1].one2many["cls_head"]:
            conv[-1].bias.copy_(torch.randn(conv[-1].bias.shape, generator=gen) * 1.5 - 2.5)
    cwd = Path.cwd()
    os.chdir(out_dir)  # a model built from YAML exports into the working directory
    try:
        path = Path(model.export(format="onnx", imgsz=size, simplify=True, dynamic=False, verbose=False)).resolve()
    finally:
        os.chdir(cwd)
    return path, size, f"yolo11n random weights (class biases raised to get detections), imgsz {size}"


def make_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """Synthetic frames (the embedded dataset's generator), decoded once, in memory."""
    from harness.data.synth import synth_image

    rng = np.random.default_rng(seed)
    return [synth_image(rng)[0] for _ in range(count)]


def open_session(onnx: Path, threads: int | None = None):
    """The harness's ONNX Runtime session on the ``cpu`` profile."""
    from devices.profiles import load_profile
    from devices.runtimes import open_runtime

    return open_runtime(onnx, profile=load_profile("cpu"), threads=threads)


def same_detections(ours, ultra_boxes) -> tuple[bool, str]:
    """Compare bench's Detections with an Ultralytics ``Boxes`` for one frame."""
    boxes = ultra_boxes.xyxy.numpy().astype(np.float64)
    classes = ultra_boxes.cls.numpy().astype(np.int64)
    if len(ours) != len(boxes):
        return False, f"{len(ours)} vs {len(boxes)} boxes"
    if not np.array_equal(ours.classes, classes):
        return False, "classes differ"
    if len(boxes):
        a, b = ours.boxes, boxes
        iw = (np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])).clip(0)
        ih = (np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])).clip(0)
        inter = iw * ih
        union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 1.0)
        if iou.min() < 1 - 1e-3:
            return False, f"min IoU {iou.min():.6f}"
    return True, ""


def run(args: argparse.Namespace) -> int:
    from ultralytics import YOLO

    from harness.pipeline.runner import Pipeline, pipelined_throughput, time_pipeline

    with tempfile.TemporaryDirectory(prefix="bench-vs-ul-") as tmp:
        if args.onnx:
            onnx, imgsz, what = Path(args.onnx), args.imgsz or 320, f"{args.onnx}, imgsz {args.imgsz or 320}"
        else:
            onnx, imgsz, what = prepare_onnx(Path(tmp), imgsz=args.imgsz)
        frames = make_frames(args.frames, seed=args.seed)
        session = open_session(onnx)  # ORT's default threads, as Ultralytics' session
        pipe = Pipeline(session, imgsz=imgsz, conf=args.conf, iou=args.iou)
        yolo = YOLO(str(onnx), task="detect")

        speeds: list[dict] = []

        def ultra(frame):
            result = yolo.predict(frame, imgsz=imgsz, conf=args.conf, iou=args.iou, verbose=False)[0]
            speeds.append(result.speed)  # Ultralytics' own pre/inference/post split, ms
            return result

        # correctness first (also warms both up)
        mismatches, total = [], 0
        for i, frame in enumerate(frames):
            ours = pipe(frame)
            ok, why = same_detections(ours, ultra(frame).boxes)
            total += len(ours)
            if not ok:
                mismatches.append(f"frame {i}: {why}")

        def timed(fn) -> list[float]:
            out = []
            for frame in frames:
                t0 = time.perf_counter()
                fn(frame)
                out.append(time.perf_counter() - t0)
            return out

        bench_s, ultra_s, ratios = [], [], []
        for r in range(args.rounds):
            order = (pipe, ultra) if r % 2 == 0 else (ultra, pipe)
            got = {id(fn): timed(fn) for fn in order}
            b, u = got[id(pipe)], got[id(ultra)]
            bench_s += b
            ultra_s += u
            ratios.append(sum(u) / sum(b))
        piped = []
        for _ in range(args.rounds):
            piped.append(pipelined_throughput(frames, pipe.preprocess, pipe.infer, pipe.postprocess))
        scopes = time_pipeline(pipe, frames, pipelined=False, warmup_min=0, warmup_max_iters=0,
                               min_iters=len(frames) * 2, min_seconds=0)

    ms = lambda xs, f: 1e3 * f(xs)  # noqa: E731
    b_mean, u_mean = ms(bench_s, statistics.fmean), ms(ultra_s, statistics.fmean)
    print(f"model:   {what}")
    print(f"frames:  {len(frames)} synthetic frames in memory (decode excluded for both), conf {args.conf}, "
          f"iou {args.iou}, ONNX Runtime default threads on both sides, {args.rounds} rounds ABBA")
    print(f"same detections: {'yes' if not mismatches else 'NO'} ({total} boxes over {len(frames)} frames)"
          + ("  -- no detections at all: the check is vacuous, use a trained model" if total == 0 else ""))
    for m in mismatches[:10]:
        print(f"  mismatch {m}")
    print(f"{'':28}{'median ms':>10}{'mean ms':>10}{'FPS':>8}")
    print(f"{'bench Pipeline (sequential)':28}{ms(bench_s, statistics.median):10.2f}{b_mean:10.2f}{1e3 / b_mean:8.1f}")
    print(f"{'ultralytics predict':28}{ms(ultra_s, statistics.median):10.2f}{u_mean:10.2f}{1e3 / u_mean:8.1f}")
    print(f"speed-up, end to end (mean latency ratio): {u_mean / b_mean:.2f}x  "
          f"(per round: min {min(ratios):.2f}x, median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x; target >= 1.5x)")
    split = {k: statistics.median(s[k] for s in speeds) for k in ("preprocess", "inference", "postprocess")}
    print(f"where the time goes (median ms): bench pre {scopes.preprocess.p50:.2f} / inference {scopes.inference.p50:.2f}"
          f" / post {scopes.postprocess.p50:.2f};  ultralytics (its own split) pre {split['preprocess']:.2f}"
          f" / inference {split['inference']:.2f} / post {split['postprocess']:.2f}, rest of predict()"
          f" {ms(ultra_s, statistics.median) - sum(split.values()):.2f}")
    print(f"bench pipelined throughput: {statistics.median(piped):.1f} FPS (median of {len(piped)} runs) = "
          f"{statistics.median(piped) / (1e3 / u_mean):.2f}x ultralytics' sequential FPS")
    return 1 if mismatches else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--onnx", help="ONNX model (default: export the reference model, or random-weight yolo11n)")
    p.add_argument("--imgsz", type=int, help="input size (default: the reference model's, else 320)")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--iou", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=0)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
