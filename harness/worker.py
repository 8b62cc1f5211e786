"""One variant, in its own process: build (or reuse) the artifact, time the pipeline, run every frame.

The parent (:mod:`harness.runloop`) writes a job file and starts ``python -m harness.worker JOB``
with a timeout. The worker prints progress as JSON lines on stdout and leaves ``result.json`` and
``detections.npz`` in the job's ``out`` folder. A crash, a kill or a timeout leaves no result: the
parent records the variant as failed with the tail of its stderr.

Job file versions: 1 (see :func:`harness.runloop._job`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.atomic import atomic_path, write_json_atomic
from common.errors import BenchError, InputError, expected

TIMING_FRAMES = 32  # distinct frames cycled through by the timed loop (decoded once, up front)
ERROR_TAIL_LINES = 25


@dataclass(frozen=True)
class FrameDets:
    """One frame's detections as stored by the worker (xyxy original pixels)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """What the parent knows about a variant after its worker ended."""

    status: str  # ok | skipped | failed
    reason: str | None = None
    error_tail: str | None = None
    manifest: dict | None = None
    timing: dict | None = None
    telemetry: dict | None = None
    runtime: dict | None = None
    versions: dict | None = None
    detections: tuple[FrameDets, ...] | None = None

    @classmethod
    def skipped(cls, spec, reason: str) -> Outcome:
        return cls(status="skipped", reason=reason)


# ----------------------------------------------------------------------------------------- parent side

def run_isolated(job: dict, *, timeout: float, progress: Callable[[dict], None] | None = None) -> Outcome:
    """Run one job in a child process; never raises for what happens inside the child."""
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    job_path = out / "job.json"
    job_path.write_text(json.dumps(job))
    stderr_path = out / "stderr.txt"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "harness.worker", str(job_path)], stdout=subprocess.PIPE,
                                stderr=err, text=True, bufsize=1)
        fired = threading.Event()

        def _kill() -> None:
            fired.set()
            proc.kill()

        timer = threading.Timer(timeout, _kill)
        timer.start()
        try:
            for line in proc.stdout:
                if progress is not None and line.startswith("{"):
                    try:
                        progress(json.loads(line))
                    except json.JSONDecodeError:
                        pass  # a library printed something that merely looks like JSON
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        timed_out = fired.is_set()
    tail = _tail(stderr_path)
    result_path = out / "result.json"
    if code == 0 and result_path.is_file():
        result = json.loads(result_path.read_text())
        return Outcome(status="ok", manifest=result.get("manifest"), timing=result.get("timing"),
                       telemetry=result.get("telemetry"), runtime=result.get("runtime"),
                       versions=result.get("versions"), detections=_load_dets(out / "detections.npz", result["frames"]),
                       error_tail=None)
    if code == 2 and (out / "error.txt").is_file():  # the worker's own clear one-line message
        return Outcome(status="failed", reason=(out / "error.txt").read_text().strip(), error_tail=tail or None)
    if timed_out:
        reason = f"timed out after {timeout:g} s and was killed"
    elif code < 0:
        reason = f"worker killed by signal {-code}"
    else:
        last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), "no output")
        reason = f"worker crashed (exit {code}): {last[:200]}"
    return Outcome(status="failed", reason=reason, error_tail=tail or None)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-ERROR_TAIL_LINES:])


def _load_dets(path: Path, n_frames: int) -> tuple[FrameDets, ...]:
    with np.load(path) as z:
        frame, boxes, scores, classes = z["frame"], z["boxes"], z["scores"], z["classes"]
    bounds = np.searchsorted(frame, np.arange(n_frames + 1))
    return tuple(FrameDets(boxes[a:b], scores[a:b], classes[a:b]) for a, b in zip(bounds[:-1], bounds[1:]))


# ------------------------------------------------------------------------------------------ child side

def _emit(stage: str, done: int, total: int | None) -> None:
    print(json.dumps({"stage": stage, "done": done, "total": total}), flush=True)


def _frames(job: dict, limit: int | None = None):
    """Decoded frames (BGR) of the job, in order."""
    import cv2

    spec = job["frames"]
    if spec["kind"] == "video":
        from harness.data.video import iter_frames

        n = spec["count"] if limit is None else min(limit, spec["count"])
        yield from iter_frames(Path(spec["video"]), limit=n)
        return
    paths = spec["paths"] if limit is None else spec["paths"][:limit]
    for p in paths:
        img = cv2.imread(p, cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(expected("an image OpenCV can decode", "unreadable file", p))
        yield img


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("onnxruntime", "tensorrt", "numpy", "opencv-python-headless"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _build(job: dict):
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    spec = parse_variant(job["variant"], fmt=job["format"])
    # A shipped <model>-prunedNN.pt beside the source is picked up by the exporter itself.
    kwargs = {}
    if job.get("student_source"):
        kwargs["student_source"] = Path(job["student_source"])
    if job.get("finetune_epochs") is not None:
        kwargs["finetune_epochs"] = int(job["finetune_epochs"])
    return build_variant(Path(job["source"]), spec, cache_dir=Path(job["cache_dir"]), imgsz=job["imgsz"],
                         data_yaml=None if job["data_yaml"] is None else Path(job["data_yaml"]),
                         calib_images=job["calib_images"], progress=_emit, **kwargs)


def work(job: dict) -> dict:
    """Do one job in this process; returns the result dict (also written to ``out/result.json``)."""
    from devices.resolve import resolve_device
    from devices.runtimes import open_runtime
    from devices.telemetry import start_sampling
    from harness.pipeline.runner import Pipeline, time_pipeline
    from results.record import timing_entry

    out = Path(job["out"])
    device = resolve_device(job["device"])
    artifact = _build(job)
    session = open_runtime(artifact.path, profile=device.profile, threads=job["threads"])
    pipeline = Pipeline(session, imgsz=job["imgsz"], nc=job.get("nc"), conf=job["conf"], iou=job["iou"],
                        max_det=job["max_det"])

    # Timing: a few distinct frames decoded up front and cycled, so file decoding is never timed.
    frames = list(_frames(job, limit=TIMING_FRAMES))
    t_opts = job["timing"]
    window: dict[str, float] = {}

    def on_progress(phase: str, n: int, seconds: float) -> None:
        # The telemetry window is the timed run only (not warm-up, not the pipelined run), on the
        # sampler's clock: the first timed call started `seconds` before this callback.
        if phase == "timed":
            now = time.monotonic()
            window.setdefault("start", now - seconds)
            window["end"] = now
        if n % 10 == 0:
            _emit(phase, n, None)

    sampler = start_sampling(device.profile, clock=time.monotonic)
    try:
        timed = time_pipeline(pipeline, frames, min_iters=t_opts["min_iters"], min_seconds=t_opts["min_seconds"],
                              warmup_max_s=t_opts["warmup_max_s"], progress=on_progress)
    finally:
        telemetry = sampler.stop(window=(window["start"], window["end"]) if window else None)
    n = timed.end_to_end.n
    stages = {"end_to_end": timed.end_to_end.samples_ms.tolist(), "inference": timed.inference_samples_ms.tolist()}
    timing = timing_entry(stages, fps=timed.fps, pipelined_fps=timed.pipelined_fps,
                          warmup_iterations=timed.end_to_end.warmup_iterations, timed_seconds=timed.end_to_end.window_s)
    timing["preprocess"] = timed.preprocess.to_dict()
    timing["postprocess"] = timed.postprocess.to_dict()
    telemetry_dict = telemetry.to_dict()
    if (jpf := telemetry.per_frame(n)) is not None:
        telemetry_dict["energy_per_frame_j"] = jpf
    if (fpw := telemetry.fps_per_watt(timed.fps)) is not None:
        telemetry_dict["fps_per_watt"] = fpw

    # Accuracy pass: every scored frame once, at the scoring confidence.
    total = job["frames"]["count"]
    idx, boxes, scores, classes = [], [], [], []
    for i, frame in enumerate(_frames(job)):
        d = pipeline(frame)
        idx.append(np.full(len(d.scores), i, np.int32))
        boxes.append(np.asarray(d.boxes, np.float64))
        scores.append(np.asarray(d.scores, np.float64))
        classes.append(np.asarray(d.classes, np.int64))
        if (i + 1) % 10 == 0 or i + 1 == total:
            _emit("score", i + 1, total)
    n_frames = len(idx)
    if n_frames != total:
        raise InputError(expected(f"{total} frames", f"{n_frames} decoded", job["frames"].get("video") or "images"))
    with atomic_path(out / "detections.npz") as tmp, open(tmp, "wb") as fh:  # a handle: np.savez adds no suffix
        np.savez(fh, frame=np.concatenate(idx) if idx else np.zeros(0, np.int32),
                 boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4)),
                 scores=np.concatenate(scores) if scores else np.zeros(0),
                 classes=np.concatenate(classes) if classes else np.zeros(0, np.int64))
    result = {"manifest": artifact.manifest, "timing": timing, "telemetry": telemetry_dict,
              "runtime": session.describe(), "versions": _versions(), "frames": n_frames}
    write_json_atomic(out / "result.json", result, indent=None)
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job_path = Path(argv[0])
    job = json.loads(job_path.read_text())
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    try:
        work(job)
    except BenchError as exc:
        (Path(job["out"]) / "error.txt").write_text(str(exc) + "\n")
        print(f"bench worker: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
