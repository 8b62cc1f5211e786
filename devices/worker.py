"""The device side of one variant: open the runtime, time the pipeline, sample telemetry, run every frame.

It takes a :class:`devices.job.Job`, the path of the artifact the job names, and the frames (a root
folder the job's frame names are relative to, or a frame reader), and leaves in ``out``:

* ``detections.npz`` (arrays ``frame``, ``boxes`` (xyxy pixels), ``scores``, ``classes``), and
* ``result.json``, a :class:`devices.job.WorkerResult`, written last (its presence means success).

With ``job.batch`` N > 1 it also times the throughput pass on the batch-N artifact (named by the job,
lying beside the batch-1 one): ``timing.batch`` in the result. Detections (accuracy) always come from
the batch-1 pass.

It builds nothing and never imports the exporters or the harness app: locally :mod:`harness.worker`
builds the artifact and calls :func:`run_job` in the same child process; remotely a device agent calls
``python -m devices.worker JOB.json --artifact FILE --frames-root DIR --out DIR``. The device profile
is loaded by the NAME the parent resolved; the device is never detected again here.

Syntax stays Python-3.8-clean (a device may run 3.8).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from common.errors import BenchError, InputError, expected
from devices.job import DETECTIONS_FILE, Job, WorkerResult

__all__ = ["RESULT_FILE", "FrameReader", "frame_reader", "run_job", "main"]

RESULT_FILE = "result.json"

Progress = Callable[[str, int, Optional[int]], None]  # (stage, done, total or None)
FrameReader = Callable[[Optional[int]], Iterator]  # limit -> decoded BGR frames, in order


def frame_reader(job: Job, root: Path) -> FrameReader:
    """Decoded frames (BGR ``uint8`` arrays) of ``job`` from files under ``root``.

    Raises (when iterated):
        InputError: an image OpenCV cannot decode (named), or a video with too few frames.
    """
    root = Path(root)
    names = job.frames.names

    def read(limit: Optional[int] = None) -> Iterator:
        import cv2

        if job.frames.kind == "video":
            from harness.data.video import iter_frames

            n = job.frames.count if limit is None else min(limit, job.frames.count)
            yield from iter_frames(root / names[0], limit=n)
            return
        for name in names if limit is None else names[:limit]:
            path = root / name
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise InputError(expected("an image OpenCV can decode", "unreadable file", str(path)))
            yield img

    return read


def versions() -> Dict[str, str]:
    """Versions of the packages a measurement depends on, where installed."""
    from importlib import metadata

    from devices.runtimes import REGISTRY

    out = {}
    for name in [p for r in REGISTRY.values() for p in r.packages] + ["numpy", "opencv-python-headless"]:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _open(job: Job, artifact: Path, profile):
    """Open ``artifact`` with the runtime (and providers) the parent chose, by name, at the job's precision."""
    from devices.runtimes import open_runtime

    return open_runtime(artifact, runtime=job.runtime, profile=profile, threads=job.threads,
                        providers=list(job.providers) or None, precision=job.precision)


def check_artifact(job: Job, artifact: Path) -> None:
    """The file is the one the job names (same SHA-256): a wrong or damaged transfer is caught here.

    Raises:
        InputError: no artifact in the job, no such file, or another file's content.
    """
    from common.hashing import file_sha256

    if job.artifact is None:
        raise InputError(expected("a job with its artifact filled in", "none", f"job {job.variant}"))
    if not Path(artifact).is_file():
        raise InputError(expected("an existing model artifact", "no such file", str(artifact)))
    sha = file_sha256(Path(artifact))
    if sha != job.artifact.sha256:
        raise InputError(expected(f"{job.artifact.name} with sha256 {job.artifact.sha256[:12]}", f"sha256 {sha[:12]}",
                                  str(artifact)))


def run_job(job: Job, *, artifact: Path, out: Path, frames: FrameReader, progress: Optional[Progress] = None,
            verify: bool = True) -> WorkerResult:
    """Measure one job here; returns the result (also written to ``out/result.json``, after the detections).

    Args:
        job: the job (with its artifact filled in).
        artifact: where the artifact the job names lies on this machine.
        out: folder for ``detections.npz`` and ``result.json`` (created).
        frames: the frame reader (:func:`frame_reader`, or one that yields frames received otherwise).
        progress: called with ``(stage, done, total)`` now and then.
        verify: check the artifact's SHA-256 against the job's (off when the caller just built it).

    Raises:
        InputError: a bad artifact or frame; RuntimeFailure and MissingDependency from the runtime.
    """
    import numpy as np

    from common.atomic import atomic_path, write_text_atomic
    from devices.profiles import load_profile
    from devices.telemetry import start_sampling
    from harness.pipeline.runner import Pipeline, time_pipeline

    emit = progress or (lambda stage, done, total: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if verify or job.artifact is None:
        check_artifact(job, artifact)
    profile = load_profile(job.device)
    session = _open(job, Path(artifact), profile)
    pipeline = Pipeline(session, imgsz=job.imgsz, nc=job.nc, conf=job.nms.conf, iou=job.nms.iou,
                        max_det=job.nms.max_det)

    # Timing: a few distinct frames decoded up front and cycled, so file decoding is never timed.
    timing_frames = list(frames(job.timing.frames))
    window = {}  # type: Dict[str, float]

    def on_progress(phase: str, n: int, seconds: float) -> None:
        # The telemetry window is the timed run only (not warm-up, not the pipelined run), on the
        # sampler's clock: the first timed call started `seconds` before this callback.
        if phase == "timed":
            now = time.monotonic()
            window.setdefault("start", now - seconds)
            window["end"] = now
        if n % 10 == 0:
            emit(phase, n, None)

    sampler = start_sampling(profile, clock=time.monotonic)
    try:
        timed = time_pipeline(pipeline, timing_frames, min_iters=job.timing.min_iters,
                              min_seconds=job.timing.min_seconds, warmup_max_s=job.timing.warmup_max_s,
                              progress=on_progress)
    finally:
        telemetry = sampler.stop(window=(window["start"], window["end"]) if window else None)
    del timing_frames
    n = timed.end_to_end.n
    # raw samples, in call order: the host turns them into the record's timing block (results.record.timing_entry)
    timing = {"stages_ms": {"end_to_end": timed.end_to_end.samples_ms.tolist(),
                            "inference": timed.inference_samples_ms.tolist()},
              "fps": timed.fps, "pipelined_fps": timed.pipelined_fps,
              "warmup_iterations": timed.end_to_end.warmup_iterations, "timed_seconds": timed.end_to_end.window_s,
              "preprocess": timed.preprocess.to_dict(), "postprocess": timed.postprocess.to_dict()}
    if job.batch > 1:
        timing["batch"] = _time_batch(job, Path(artifact), profile, frames, verify=verify, progress=emit)
    telemetry_dict = telemetry.to_dict()
    jpf = telemetry.per_frame(n)
    if jpf is not None:
        telemetry_dict["energy_per_frame_j"] = jpf
    fpw = telemetry.fps_per_watt(timed.fps)
    if fpw is not None:
        telemetry_dict["fps_per_watt"] = fpw

    # Accuracy pass: every scored frame once, at the scoring confidence.
    total = job.frames.count
    idx, boxes, scores, classes = [], [], [], []  # type: List, List, List, List
    for i, frame in enumerate(frames(None)):
        d = pipeline(frame)
        idx.append(np.full(len(d.scores), i, np.int32))
        boxes.append(np.asarray(d.boxes, np.float64))
        scores.append(np.asarray(d.scores, np.float64))
        classes.append(np.asarray(d.classes, np.int64))
        if (i + 1) % 10 == 0 or i + 1 == total:
            emit("score", i + 1, total)
    n_frames = len(idx)
    if n_frames != total:
        where = job.frames.names[0] if job.frames.kind == "video" and job.frames.names else "images"
        raise InputError(expected(f"{total} frames", f"{n_frames} decoded", where))
    with atomic_path(out / DETECTIONS_FILE) as tmp, open(tmp, "wb") as fh:  # a handle: np.savez adds no suffix
        np.savez(fh, frame=np.concatenate(idx) if idx else np.zeros(0, np.int32),
                 boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4)),
                 scores=np.concatenate(scores) if scores else np.zeros(0),
                 classes=np.concatenate(classes) if classes else np.zeros(0, np.int64))
    result = WorkerResult(variant=job.variant, timing=timing, telemetry=telemetry_dict, runtime=session.describe(),
                          versions=versions(), n_frames=n_frames)
    write_text_atomic(out / RESULT_FILE, result.to_json() + "\n")
    return result


def batch_artifact_path(job: Job, artifact: Path) -> Path:
    """Where the job's batch-N artifact lies: beside its batch-1 artifact, by the name the job gives.

    Raises:
        InputError: a job with ``batch`` > 1 but no batch artifact.
    """
    if job.batch_artifact is None:
        raise InputError(expected(f"a batch-{job.batch} artifact in the job", "none", f"job {job.variant}"))
    return Path(artifact).parent / job.batch_artifact.name


def _time_batch(job: Job, artifact: Path, profile, frames: FrameReader, *, verify: bool, progress: Progress) -> Dict:
    """The throughput pass at ``job.batch``: the batch-N artifact, N frames per call (the record's ``timing.batch``).

    It times at least as many frames as the single-stream pass (``min_iters / batch`` calls, at least 10)
    and at least ``min_seconds``, on ``max(timing frames, batch)`` distinct frames decoded up front.
    """
    from devices.telemetry.sources import read_schedstat, wait_share
    from harness.pipeline.runner import Pipeline, time_batch

    path = batch_artifact_path(job, artifact)
    if verify:
        check_artifact(replace(job, artifact=job.batch_artifact), path)
    session = _open(job, path, profile)
    pipeline = Pipeline(session, imgsz=job.imgsz, nc=job.nc, conf=job.nms.conf, iou=job.nms.iou,
                        max_det=job.nms.max_det)
    batch_frames = list(frames(max(job.timing.frames, job.batch)))
    calls = max(10, -(-job.timing.min_iters // job.batch))

    sched: Dict[str, Optional[Tuple[float, float]]] = {}  # read_schedstat() at the window's start

    def on_progress(phase: str, n: int, seconds: float) -> None:
        if phase == "warmup":  # the last warm-up call's reading opens the timed window
            sched["start"] = read_schedstat()
        elif "start" not in sched:  # no warm-up was run: from the end of the first timed call
            sched["start"] = read_schedstat()
        if n % 5 == 0:
            progress(f"batch {job.batch} {phase}", n, None)

    timed = time_batch(pipeline, batch_frames, batch=job.batch, min_iters=calls, min_seconds=job.timing.min_seconds,
                       warmup_max_s=job.timing.warmup_max_s, progress=on_progress)
    out = timed.to_dict()
    out["artifact"] = job.batch_artifact.name
    # what results.validity judges the pass by, as it judges the single stream: its calls in order and the
    # share of their ready time the process's threads waited for a CPU (absent where schedstat is not exposed)
    out["samples_ms"] = timed.calls.samples_ms.tolist()
    start, end = sched.get("start"), read_schedstat()
    share = wait_share(end[0] - start[0], end[1] - start[1]) if start is not None and end is not None else None
    if share is not None:
        out["cpu_wait_share"] = share
    return out


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m devices.worker JOB.json --artifact FILE --frames-root DIR --out DIR`` (exit 2: one line)."""
    import json

    parser = argparse.ArgumentParser(prog="python -m devices.worker", description=main.__doc__)
    parser.add_argument("job", type=Path)
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--frames-root", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    def emit(stage: str, done: int, total: Optional[int]) -> None:
        print(json.dumps({"stage": stage, "done": done, "total": total}), flush=True)

    try:
        try:
            text = args.job.read_text()
        except OSError as exc:
            raise InputError(expected("a readable job file", exc.strerror or exc, str(args.job))) from None
        job = Job.from_json(text, where=str(args.job))
        run_job(job, artifact=args.artifact, out=args.out, frames=frame_reader(job, args.frames_root), progress=emit)
    except BenchError as exc:
        print(f"bench worker: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
