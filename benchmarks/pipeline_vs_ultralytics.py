"""bench's pipeline vs Ultralytics' own ``YOLO(model.onnx).predict`` on the same frames, per stage.

Like for like: the same ONNX file, the same input size, ``conf``, ``iou`` and ``max_det``, ONNX
Runtime's CPU provider with the same session settings on both sides (ONNX Runtime's defaults, or
``--threads N`` on both: Ultralytics' session is then replaced by one opened with the same options),
``predict(..., stream=True, verbose=False)``, and the same frames reaching both sides the same way.
Each configuration (``--configs``) says how the frames arrive:

* ``arrays``: the first ``--frames`` images of the synthetic val split (320x320, 384x288, 288x384),
  decoded into memory before timing; one ``predict(frame)`` call per frame, as a camera callback
  would make, against one ``Pipeline(frame)`` call. Decoding is excluded for both.
* ``files``: the same images from their JPEG files, decoding included for both: one
  ``predict(folder, stream=True)`` (Ultralytics' own file loader: batch 1, ``cv2.imdecode``) against
  ``cv2.imread`` + ``Pipeline`` per file. (Not ``predict(list_of_paths)``: Ultralytics opens a list
  with PIL up front and runs it as one batch, which is neither streaming nor the same decoder.)
* ``files-x4``: the same images upscaled 4x (1152-1536 px, JPEG quality 92) and read from files:
  decode and the letterbox's resize cost more, inference the same.
* ``video640``: a 640x480 synthetic clip (``harness.data.video.write_synth_video``) decoded by
  ``cv2.VideoCapture`` on both sides: ``predict(video, stream=True)`` against a read loop.

Per configuration and round the script times bench sequential (decode, preprocess, inference,
postprocess stamped separately), Ultralytics (its own ``Results.speed`` split: preprocess,
inference, postprocess; the rest of its wall time is decode + framework) and bench *pipelined*
(``harness.pipeline.runner.pipelined_throughput``: decode + preprocess of the next frame on one
thread and postprocess of the previous one on another while the current frame is in inference).
The order of the three jobs rotates from round to round, so drift of a shared machine hits all
alike; every ratio is the median of per-round ratios of total wall time over the same frames.
Ultralytics has no pipelined mode for ONNX on CPU, so the pipelined ratio is bench pipelined vs
Ultralytics sequential, and says so.

Before timing (which also warms both up), every frame's detections are compared: same count and
classes, every box within 1e-3 IoU of Ultralytics'; bench's pipelined results must equal its
sequential ones exactly. Any mismatch exits 1.

The Amdahl line: with the same inference on both sides, bench can at best remove all of
Ultralytics' non-inference time, so the sequential ratio cannot exceed Ultralytics' frame time /
its inference time (``1 / inference share``), whatever bench does; and since decoding is the same
library call on both sides (same pixels), not beyond frame time / (inference + bench's decode time).

Run (short: 1-2 minutes per configuration with the defaults on a busy 2-core machine)::

    python benchmarks/pipeline_vs_ultralytics.py --configs arrays,files,files-x4,video640
    python benchmarks/pipeline_vs_ultralytics.py --onnx m.onnx --imgsz 640 --threads 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

CONFIGS = ("arrays", "files", "files-x4", "video640")


def prepare_onnx(out_dir: Path, *, imgsz: int | None = None) -> tuple[Path, int, str]:
    """Export the model to benchmark: the shipped reference model when it exists, else ``yolo11n.yaml``
    with random weights and class biases raised so that frames have detections.

    Returns:
        ``(onnx_path, imgsz, description)``.
    """
    from ultralytics import YOLO

    from common.errors import InputError
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

    return open_runtime(onnx, runtime="onnxruntime", profile=load_profile("cpu"), threads=threads)


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


def identical(a, b) -> bool:
    """Two bench Detections are exactly equal."""
    return (np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
            and np.array_equal(a.classes, b.classes))


# ---------------------------------------------------------------------------------------------
# frame sources: one description per configuration, used by both sides


@dataclass
class Source:
    """How one configuration's frames reach each side.

    ``items`` are what both sides are handed (arrays, paths, or one video path); ``decode(item)``
    gives bench the BGR frame of an item (identity for arrays); ``ultra_calls`` are the arguments
    of Ultralytics' ``predict`` calls (one per frame for arrays, one for all paths or the video).
    """

    name: str
    what: str
    items: list
    decode: Callable[[object], np.ndarray]
    ultra_calls: list
    frames: int

    def bench_frames(self):
        """The frames bench decodes, in order (a generator: for video, the capture is read lazily)."""
        if self.name == "video640":
            yield from _video_frames(self.items[0])
        else:
            for item in self.items:
                yield self.decode(item)


def _video_frames(path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def make_source(name: str, count: int, tmp: Path) -> Source:
    import cv2

    from harness.data.synth import ensure_dataset

    if name == "video640":
        from harness.data.video import write_synth_video

        video, _ = write_synth_video(tmp / "video640", n_frames=count, size=(480, 640))
        return Source(name, f"{count} frames of a 640x480 synthetic clip (mp4v), decoded by cv2.VideoCapture on both sides",
                      [video], lambda f: f, [str(video)], count)
    val = sorted((ensure_dataset() / "images" / "val").glob("*.jpg"))[:count]
    if name == "arrays":
        frames = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in val]
        shapes = sorted({f"{f.shape[1]}x{f.shape[0]}" for f in frames})
        return Source(name, f"{len(frames)} val-split images ({', '.join(shapes)}) decoded into memory before timing "
                      "(decode excluded for both); one predict(frame) call per frame",
                      frames, lambda f: f, frames, len(frames))
    if name not in ("files", "files-x4"):
        raise SystemExit(f"unknown configuration {name!r} (known: {', '.join(CONFIGS)})")
    # A folder, not a list: Ultralytics streams a folder through its file loader (batch 1, cv2.imdecode),
    # whereas a list of paths is opened with PIL up front and run as one batch.
    folder = tmp / name
    folder.mkdir()
    for p in val:
        if name == "files":
            shutil.copy(p, folder / p.name)
        else:
            big = cv2.resize(cv2.imread(str(p), cv2.IMREAD_COLOR), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(folder / p.name), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    paths = sorted(str(p) for p in folder.glob("*.jpg"))  # Ultralytics' order: sorted names
    shapes = sorted({f"{img.shape[1]}x{img.shape[0]}" for img in (cv2.imread(p) for p in paths[:6])})
    return Source(name, f"{len(paths)} JPEG files ({', '.join(shapes)}, ...), decoded from file by both "
                  "(bench cv2.imread, Ultralytics its file loader's cv2.imdecode); one predict(folder, stream=True)",
                  paths, lambda p: cv2.imread(p, cv2.IMREAD_COLOR), [str(folder)], len(paths))


# ---------------------------------------------------------------------------------------------
# the three timed jobs


@dataclass
class Stages:
    """Seconds summed over one round's frames, per stage, and the round's wall time."""

    decode: float = 0.0  # bench: decode; Ultralytics: decode + framework (wall - its three scopes)
    preprocess: float = 0.0
    inference: float = 0.0
    postprocess: float = 0.0
    wall: float = 0.0
    frames: int = 0


@dataclass
class Totals:
    """Per-configuration accumulation over rounds."""

    bench: list[Stages] = field(default_factory=list)
    ultra: list[Stages] = field(default_factory=list)
    piped: list[float] = field(default_factory=list)  # wall seconds of each pipelined round


def bench_round(pipe, source: Source) -> Stages:
    s = Stages()
    clock = time.perf_counter
    start = clock()
    frames = source.bench_frames()
    while True:
        t0 = clock()
        frame = next(frames, None)
        if frame is None:
            break
        t1 = clock()
        x, info = pipe.preprocess(frame)
        t2 = clock()
        out = pipe.infer(x)
        t3 = clock()
        pipe.postprocess(out, info)
        t4 = clock()
        s.decode += t1 - t0
        s.preprocess += t2 - t1
        s.inference += t3 - t2
        s.postprocess += t4 - t3
        s.frames += 1
    s.wall = clock() - start
    return s


def ultra_round(predict, source: Source) -> Stages:
    s = Stages()
    start = time.perf_counter()
    for call in source.ultra_calls:
        for r in predict(call):
            s.preprocess += r.speed["preprocess"] / 1e3
            s.inference += r.speed["inference"] / 1e3
            s.postprocess += r.speed["postprocess"] / 1e3
            s.frames += 1
    s.wall = time.perf_counter() - start
    s.decode = s.wall - s.preprocess - s.inference - s.postprocess
    return s


def piped_round(pipe, source: Source, on_result=None) -> float:
    from harness.pipeline.runner import pipelined_throughput

    if source.name == "video640":
        frames, pre = source.bench_frames(), pipe.preprocess  # the producer thread reads the capture
    elif source.name == "arrays":
        frames, pre = source.items, pipe.preprocess
    else:
        frames = source.items

        def pre(path):
            return pipe.preprocess(source.decode(path))

    fps = pipelined_throughput(frames, pre, pipe.infer, pipe.postprocess, on_result=on_result)
    return source.frames / fps


# ---------------------------------------------------------------------------------------------


def check(pipe, predict, source: Source) -> tuple[list[str], int]:
    """Detections of both sides, frame by frame, and bench pipelined vs sequential. Warms both up."""
    ours = [pipe(f) for f in source.bench_frames()]
    theirs = [r.boxes for call in source.ultra_calls for r in predict(call)]
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{len(ours)} frames decoded by bench, {len(theirs)} by Ultralytics")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        ok, why = same_detections(a, b)
        if not ok:
            problems.append(f"frame {i}: {why}")
    piped: dict[int, object] = {}
    piped_round(pipe, source, on_result=lambda i, d: piped.__setitem__(i, d))
    if len(piped) != len(ours) or not all(identical(ours[i], piped[i]) for i in range(len(ours))):
        problems.append("bench pipelined results differ from its sequential results")
    return problems, sum(len(d) for d in ours)


def ort_settings(session) -> str:
    o = session.get_session_options()
    return (f"providers {session.get_providers()}, intra-op threads {o.intra_op_num_threads or 'default'}, "
            f"inter-op {o.inter_op_num_threads or 'default'}, {str(o.execution_mode).split('.')[-1]}, "
            f"{str(o.graph_optimization_level).split('.')[-1]}")


def median_ratio(num: list[float], den: list[float]) -> tuple[float, float, float]:
    r = [a / b for a, b in zip(num, den)]
    return statistics.median(r), min(r), max(r)


def report(name: str, source: Source, t: Totals, boxes: int, problems: list[str]) -> dict:
    def per_frame(stages: list[Stages], attr: str) -> float:
        return 1e3 * sum(getattr(s, attr) for s in stages) / sum(s.frames for s in stages)

    b_wall = [s.wall for s in t.bench]
    u_wall = [s.wall for s in t.ultra]
    seq = median_ratio(u_wall, b_wall)
    piped = median_ratio(u_wall, t.piped)
    overlap = median_ratio(b_wall, t.piped)
    share = statistics.median([s.inference / s.wall for s in t.ultra])
    bound = statistics.median([s.wall / s.inference for s in t.ultra])
    # decoding is the same library call on both sides (same pixels), so it cannot shrink either
    bound_decode = statistics.median([u.wall / (u.inference + b.decode) for u, b in zip(t.ultra, t.bench)])
    non_inf = median_ratio([s.wall - s.inference for s in t.ultra], [s.wall - s.inference for s in t.bench])
    print(f"\n[{name}] {source.what}")
    print(f"  same detections: {'yes' if not problems else 'NO'} ({boxes} boxes over {source.frames} frames; "
          "bench pipelined == bench sequential: " + ("yes" if not any("pipelined" in p for p in problems) else "NO") + ")")
    for p in problems[:10]:
        print(f"  mismatch: {p}")
    first = "decode" if name != "arrays" else "-"
    print(f"  {'ms per frame (mean over rounds)':36}{first + ' (+fw)':>13}{'preprocess':>11}{'inference':>10}"
          f"{'postproc':>10}{'total':>9}")
    for label, stages in (("bench Pipeline, sequential", t.bench), ("ultralytics predict(stream=True)", t.ultra)):
        print(f"  {label:36}{per_frame(stages, 'decode'):13.2f}{per_frame(stages, 'preprocess'):11.2f}"
              f"{per_frame(stages, 'inference'):10.2f}{per_frame(stages, 'postprocess'):10.2f}{per_frame(stages, 'wall'):9.2f}")
    piped_ms = 1e3 * sum(t.piped) / (len(t.piped) * source.frames)
    print(f"  {'bench pipelined (threads)':36}{'':13}{'':11}{'':10}{'':10}{piped_ms:9.2f}")
    print("  (Ultralytics' first column is its wall time minus its own three scopes: decode, its loader, setup per "
          "predict call, generator; its inference scope includes its torch<->numpy hand-over)")
    print(f"  inference share of Ultralytics' frame time: {100 * share:.0f}% -> Amdahl bound on the sequential ratio "
          f"with the same inference: {bound:.2f}x" + (f"; with the same decoding too: {bound_decode:.2f}x" if name != "arrays" else ""))
    print(f"  non-inference time: {non_inf[0]:.2f}x less in bench (per-round median; min {non_inf[1]:.2f}x, max {non_inf[2]:.2f}x)")
    print(f"  end to end, sequential:              {seq[0]:.2f}x  (per-round median; min {seq[1]:.2f}x, max {seq[2]:.2f}x; "
          f"{len(b_wall)} rounds)")
    print(f"  bench pipelined vs ultra sequential: {piped[0]:.2f}x  (min {piped[1]:.2f}x, max {piped[2]:.2f}x)")
    print(f"  bench pipelined vs bench sequential: {overlap[0]:.2f}x  (min {overlap[1]:.2f}x, max {overlap[2]:.2f}x)")
    return {"config": name, "sequential": seq, "pipelined": piped, "overlap": overlap, "bound": bound,
            "bound_decode": bound_decode if name != "arrays" else None, "share": share, "ok": not problems, "boxes": boxes}


def run(args: argparse.Namespace) -> int:
    from ultralytics import YOLO

    from harness.pipeline.runner import Pipeline

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if c not in CONFIGS:
            raise SystemExit(f"unknown configuration {c!r} (known: {', '.join(CONFIGS)})")
    summary = []
    with tempfile.TemporaryDirectory(prefix="bench-vs-ul-") as tmp:
        tmp = Path(tmp)
        if args.onnx:
            onnx, imgsz, what = Path(args.onnx), args.imgsz or 320, f"{args.onnx}, imgsz {args.imgsz or 320}"
        else:
            onnx, imgsz, what = prepare_onnx(tmp, imgsz=args.imgsz)
        session = open_session(onnx, args.threads)
        pipe = Pipeline(session, imgsz=imgsz, conf=args.conf, iou=args.iou, max_det=args.max_det)
        yolo = YOLO(str(onnx), task="detect")
        opts = dict(imgsz=imgsz, conf=args.conf, iou=args.iou, max_det=args.max_det, verbose=False, stream=True)

        def predict(source):
            return yolo.predict(source, **opts)

        sources = {c: make_source(c, args.frames, tmp) for c in configs}
        for _ in predict(sources[configs[0]].ultra_calls[0]):  # sets the predictor (and its session) up
            break
        ul_session = yolo.predictor.model.session
        if args.threads:
            import onnxruntime as ort

            o = ort.SessionOptions()
            o.intra_op_num_threads = args.threads
            o.inter_op_num_threads = 1
            o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            ul_session = ort.InferenceSession(str(onnx), o, providers=ul_session.get_providers())
            yolo.predictor.model.backend.session = ul_session
        print(f"model:   {what}; conf {args.conf}, iou {args.iou}, max_det {args.max_det}")
        print(f"bench:       {ort_settings(session._sess)}")  # the harness session's own ORT session
        print(f"ultralytics: {ort_settings(ul_session)}"
              + ("  (replaced by bench's settings: --threads)" if args.threads else ""))
        print(f"rounds:  {args.rounds} per configuration; bench sequential / ultralytics / bench pipelined, "
              "order rotated; ratios are medians of per-round ratios of wall time over the same frames")

        bad = False
        for name in configs:
            source = sources[name]
            problems, boxes = check(pipe, predict, source)
            bad |= bool(problems)
            t = Totals()
            jobs = ["bench", "ultra", "piped"]
            for r in range(args.rounds):
                order = jobs[r % 3:] + jobs[: r % 3]
                if r % 2:
                    order.reverse()
                for job in order:
                    if job == "bench":
                        t.bench.append(bench_round(pipe, source))
                    elif job == "ultra":
                        t.ultra.append(ultra_round(predict, source))
                    else:
                        t.piped.append(piped_round(pipe, source))
            summary.append(report(name, source, t, boxes, problems))

    print("\nsummary (bench vs ultralytics predict, same ONNX, same inference settings; per-round medians):")
    print(f"  {'config':10}{'sequential':>12}{'pipelined':>11}{'piped/seq':>11}{'bound':>8}{'bound+dec':>11}"
          f"{'inf. share':>12}  detections")
    for s in summary:
        dec = f"{s['bound_decode']:10.2f}x" if s["bound_decode"] is not None else f"{'-':>11}"
        print(f"  {s['config']:10}{s['sequential'][0]:11.2f}x{s['pipelined'][0]:10.2f}x{s['overlap'][0]:10.2f}x"
              f"{s['bound']:7.2f}x{dec}{100 * s['share']:11.0f}%  {'identical' if s['ok'] else 'MISMATCH'} ({s['boxes']} boxes)")
    print("  (pipelined: bench pipelined vs ultralytics sequential; piped/seq: bench pipelined vs bench sequential; "
          "bound: Amdahl bound with the same inference; bound+dec: ... and the same decoding)")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--onnx", help="ONNX model (default: export the reference model, or random-weight yolo11n)")
    p.add_argument("--imgsz", type=int, help="input size (default: the reference model's, else 320)")
    p.add_argument("--configs", default="arrays,files", help=f"comma-separated, from {', '.join(CONFIGS)}")
    p.add_argument("--frames", type=int, default=12, help="frames per configuration (each round times all of them)")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--threads", type=int, default=None,
                   help="ONNX Runtime intra-op threads on both sides (default: ONNX Runtime's default on both)")
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--iou", type=float, default=0.7)
    p.add_argument("--max-det", type=int, default=300)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
