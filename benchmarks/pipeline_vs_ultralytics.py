"""bench's measured pipeline vs Ultralytics' own ``YOLO(model.onnx).predict`` on the same frames.

Both sides get the same ONNX file, the same in-memory BGR frames (decoding from file is excluded
for both: frames are generated once, before timing), the same input size, confidence and NMS IoU,
and ONNX Runtime's default CPU thread settings. Per frame, each side does its whole job: letterbox,
inference, decode + NMS + boxes back in image pixels (bench: :class:`harness.pipeline.runner.Pipeline`;
Ultralytics: ``predict``, which also builds its ``Results``). Rounds rotate which side goes first so
that drift of a shared machine hits both sides alike. The script also checks that both find the same
detections (same count and classes per frame, every box within 1e-3 IoU) and exits 1 if not.

Run::

    python benchmarks/pipeline_vs_ultralytics.py               # reference model if shipped, else random weights
    python benchmarks/pipeline_vs_ultralytics.py --onnx m.onnx --imgsz 640 --frames 40 --rounds 6

Prints per-frame latency (median and mean) of both sides, the ratio (target: bench >= 1.5x faster),
and bench's pipelined throughput (pre/post overlapped with inference on threads), which Ultralytics'
predict has no equivalent of, so it is printed against Ultralytics' sequential throughput and
labelled as such. It also splits each side's frame time into inference (the ONNX Runtime call: the
same work on both sides) and the rest, the per-frame work a faster accelerator does not shrink.
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

    from harness.pipeline.runner import Pipeline, pipelined_throughput

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

        def bench_round() -> tuple[list[float], list[float]]:
            e2e, inf = [], []
            for frame in frames:  # Pipeline.__call__, with its scopes stamped (4 clock reads)
                t0 = time.perf_counter()
                x, info = pipe.preprocess(frame)
                t1 = time.perf_counter()
                out = pipe.infer(x)
                t2 = time.perf_counter()
                pipe.postprocess(out, info)
                t3 = time.perf_counter()
                e2e.append(t3 - t0)
                inf.append(t2 - t1)
            return e2e, inf

        def ultra_round() -> tuple[list[float], list[float]]:
            e2e = []
            del speeds[:]
            for frame in frames:
                t0 = time.perf_counter()
                ultra(frame)
                e2e.append(time.perf_counter() - t0)
            return e2e, [sp["inference"] / 1e3 for sp in speeds]

        def piped_round() -> float:
            return pipelined_throughput(frames, pipe.preprocess, pipe.infer, pipe.postprocess)

        b_e2e, b_inf, u_e2e, u_inf, ratios, piped, piped_ratios = [], [], [], [], [], [], []
        for r in range(args.rounds):
            jobs = ["bench", "ultra", "piped"]
            order = jobs[r % 3 :] + jobs[: r % 3]  # rotate who goes first
            if r % 2:
                order.reverse()
            got = {}
            for job in order:
                got[job] = bench_round() if job == "bench" else ultra_round() if job == "ultra" else piped_round()
            b_e2e += got["bench"][0]
            b_inf += got["bench"][1]
            u_e2e += got["ultra"][0]
            u_inf += got["ultra"][1]
            ratios.append(sum(got["ultra"][0]) / sum(got["bench"][0]))
            piped.append(got["piped"])
            piped_ratios.append(got["piped"] * sum(got["ultra"][0]) / len(frames))

    med = lambda xs: 1e3 * statistics.median(xs)  # noqa: E731
    b_mean, u_mean = 1e3 * statistics.fmean(b_e2e), 1e3 * statistics.fmean(u_e2e)
    b_rest = statistics.median([e - i for e, i in zip(b_e2e, b_inf)]) * 1e3
    u_rest = statistics.median([e - i for e, i in zip(u_e2e, u_inf)]) * 1e3
    spread = lambda xs: f"per round: min {min(xs):.2f}x, median {statistics.median(xs):.2f}x, max {max(xs):.2f}x"  # noqa: E731
    print(f"model:   {what}")
    print(f"frames:  {len(frames)} synthetic frames in memory (decode excluded for both), conf {args.conf}, "
          f"iou {args.iou}, ONNX Runtime default threads on both sides, {args.rounds} rounds, order rotated")
    print(f"same detections: {'yes' if not mismatches else 'NO'} ({total} boxes over {len(frames)} frames)"
          + ("  -- no detections at all: the check is vacuous, use a trained model" if total == 0 else ""))
    for m in mismatches[:10]:
        print(f"  mismatch {m}")
    print(f"{'':30}{'e2e median':>11}{'e2e mean':>10}{'FPS':>7}{'inference':>11}{'non-inference':>15}")
    print(f"{'bench Pipeline (sequential)':30}{med(b_e2e):11.2f}{b_mean:10.2f}{1e3 / b_mean:7.1f}{med(b_inf):11.2f}{b_rest:15.2f}")
    print(f"{'ultralytics predict':30}{med(u_e2e):11.2f}{u_mean:10.2f}{1e3 / u_mean:7.1f}{med(u_inf):11.2f}{u_rest:15.2f}")
    print("(ms per frame; inference = the ONNX Runtime call, by bench's clock and by Ultralytics' own split; "
          "non-inference = the rest of each frame: letterbox, tensor, decode, NMS, boxes back, framework)")
    print(f"speed-up, end to end (mean latency ratio): {u_mean / b_mean:.2f}x  ({spread(ratios)}; target >= 1.5x)")
    print(f"non-inference work per frame: {u_rest / b_rest:.1f}x less in bench ({b_rest:.2f} vs {u_rest:.2f} ms): "
          "the part an accelerator does not shrink")
    print(f"bench pipelined throughput: {statistics.median(piped):.1f} FPS = {statistics.median(piped_ratios):.2f}x "
          f"ultralytics' sequential FPS ({spread(piped_ratios)})")
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
