"""One variant, in its own process: build (or reuse) the artifact here, then measure it with :mod:`devices.worker`.

The parent (:func:`run_isolated`, called by the run loop) writes ``task.json`` -- a host-side
:class:`BuildRequest`, the typed :class:`devices.job.Job` and the frames root -- into the variant's
folder and starts ``python -m harness.worker TASK`` in its own process group, with a timeout. The
child builds the artifact from the BuildRequest (exporters), fills the Job's artifact reference in and
hands the Job to :func:`devices.worker.run_job`, which leaves ``detections.npz`` and ``result.json``
(a :class:`devices.job.WorkerResult`). Progress comes back as JSON lines on stdout.

A crash, a kill or a timeout leaves no result: the parent records the variant as failed with the tail
of its stderr. A clear error in the child (:class:`common.errors.BenchError`) is kept as one line in
``error.json`` with its kind, so an input error found inside a worker stays an input error.

The child dies with its parent: its own process group is killed by the parent on any exit (timeout,
Ctrl-C, SIGTERM), and the child watches its stdin pipe (end of file: the parent is gone) and on Linux
asks the kernel for SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``).

Task file versions: 1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from common.atomic import write_json_atomic
from common.errors import BenchError, InputError, MissingDependency, expected
from common.jsonio import read_json_object
from devices.agent import stage_of, timed_out_words
from devices.job import DETECTIONS_FILE, ArtifactRef, Job, WorkerResult

TASK_VERSION = 1
ERROR_TAIL_LINES = 25
PARTIAL_MIN_AGE_S = 60.0  # a .partial nobody has open, untouched this long and older than this process, is stale
PARTIAL_MAX_AGE_S = 24 * 3600  # ... and where not every process's open files can be read: untouched a day
_STARTED = time.time()


@dataclass(frozen=True)
class BuildRequest:
    """Host-only inputs that build one variant's artifact (never sent to a device).

    Attributes:
        source: the model file the row is built from (``.pt`` or ``.onnx``).
        variant: the variant name (``"int8"``, ``"pruned30"``, ``"student"``...).
        format: ``"onnx"`` or ``"trt"``.
        imgsz: square input side.
        cache_dir: the artifacts cache folder.
        data_yaml: dataset YAML whose train split calibrates INT8 / fine-tunes pruned models.
        calib_images: INT8 calibration image count.
        student_source: the distilled student ``.pt`` for ``student*`` variants (resolved by the plan).
        options: the variant kinds' options (:func:`exporters.kinds.options_mapping`: ``finetune_epochs``,
            ``calib_method``, ``workspace_mib``...), JSON-ready; absent ones take the kind's default.

    The throughput pass's batch is the Job's (``job.batch``): with N > 1 the child also builds the
    artifact exported with a static batch N (keyed apart: ``fp32-320-b8.onnx``).
    """

    source: str
    variant: str
    format: str
    imgsz: int
    cache_dir: str
    data_yaml: str | None = None
    calib_images: int = 200
    student_source: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def finetune_epochs(self) -> int:
        """The pruned kind's fine-tuning epochs (kept for callers written before ``options``)."""
        return int(self.options.get("finetune_epochs", 10))

    @classmethod
    def from_dict(cls, data: Any) -> BuildRequest:
        if not isinstance(data, dict):
            raise InputError(expected("a build request object", type(data).__name__, "task.build"))
        try:
            return cls(**data)
        except TypeError as exc:
            raise InputError(expected("the build request fields", str(exc), "task.build")) from None


@dataclass(frozen=True)
class FrameDets:
    """One frame's detections as stored by the worker (xyxy original pixels)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """What the parent knows about a variant after its worker ended.

    ``input_error`` is True when the row failed on an :class:`InputError` raised inside the worker
    (bad input, not a broken tool): the run loop turns a run whose every row failed that way into exit 2.
    """

    status: str  # ok | skipped | failed
    reason: str | None = None
    error_tail: str | None = None
    manifest: dict | None = None
    timing: dict | None = None
    telemetry: dict | None = None
    runtime: dict | None = None
    versions: dict | None = None
    detections: tuple[FrameDets, ...] | None = None
    input_error: bool = False

    @classmethod
    def skipped(cls, spec, reason: str) -> Outcome:
        return cls(status="skipped", reason=reason)


# ----------------------------------------------------------------------------------------- parent side

def run_isolated(build: BuildRequest, job: Job, *, frames_root: Path, out: Path, timeout: float,
                 progress: Callable[[dict], None] | None = None) -> Outcome:
    """Run one variant in a child process; never raises for what happens inside the child.

    The child is killed (its whole process group) when this returns or raises for any reason:
    timeout, KeyboardInterrupt, or the SystemExit of a SIGTERM handler.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task_path = out / "task.json"
    task = {"version": TASK_VERSION, "build": asdict(build), "job": job.to_dict(), "frames_root": str(frames_root)}
    write_json_atomic(task_path, task, indent=None)
    stderr_path = out / "stderr.txt"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "harness.worker", str(task_path), str(os.getpid())],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1,
                                start_new_session=True)
        fired = threading.Event()

        def _kill() -> None:
            fired.set()
            _kill_group(proc)

        timer = threading.Timer(timeout, _kill)
        timer.daemon = True
        timer.start()
        stage = None  # the last stage the worker reported: named if it is killed at its timeout
        try:
            for line in proc.stdout:
                if line.startswith("{"):
                    try:
                        msg = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a library printed something that merely looks like JSON
                    stage = stage_of(msg) or stage
                    if progress is not None:
                        progress(msg)
            code = proc.wait()
        finally:
            timer.cancel()
            _kill_group(proc)  # grandchildren too, whatever happened
            if proc.poll() is None:
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        timed_out = fired.is_set()
    tail = _tail(stderr_path)
    result_path = out / "result.json"
    if code == 0 and result_path.is_file():
        result = WorkerResult.from_json(result_path.read_text(), where=str(result_path))
        manifest = read_json_object(out / "artifact.json")
        return Outcome(status="ok", manifest=manifest, timing=timing_block(result.timing), telemetry=result.telemetry,
                       runtime=result.runtime, versions=result.versions,
                       detections=_load_dets(out / DETECTIONS_FILE, result.n_frames), error_tail=None)
    error = read_json_object(out / "error.json")
    if code == 2 and error is not None and isinstance(error.get("message"), str):  # the worker's own clear line
        return Outcome(status="failed", reason=error["message"], error_tail=tail or None,
                       input_error=error.get("kind") == "input")
    if timed_out:
        reason = timed_out_words(timeout, stage)
    elif code < 0:
        reason = f"worker killed by signal {-code}"
    else:
        last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), "no output")
        reason = f"worker crashed (exit {code}): {last[:200]}"
    return Outcome(status="failed", reason=reason, error_tail=tail or None)


def timing_block(raw: dict) -> dict:
    """The record's ``timing`` block from a :class:`WorkerResult`'s raw timing."""
    from results.record import timing_entry

    timing = timing_entry(raw["stages_ms"], fps=raw.get("fps"), pipelined_fps=raw.get("pipelined_fps"),
                          warmup_iterations=raw.get("warmup_iterations"), timed_seconds=raw.get("timed_seconds"),
                          batch=raw.get("batch"))
    for scope in ("preprocess", "postprocess"):
        if raw.get(scope) is not None:
            timing[scope] = raw[scope]
    return timing


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone (the group died with its leader)


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


def die_with_parent(parent_pid: int | None) -> None:
    """Make this process (and its group) die when the parent does.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. Everywhere: a daemon thread reading stdin (the
    parent's pipe); end of file means the parent is gone, and the whole process group is killed.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(137)

    def watch(fd: int) -> None:
        try:  # the raw descriptor: a buffered stdin's lock would block the interpreter's shutdown
            while os.read(fd, 1 << 12):
                pass
        except OSError:
            pass
        try:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        finally:
            os._exit(137)

    if sys.stdin is not None and not sys.stdin.isatty():
        threading.Thread(target=watch, args=(sys.stdin.fileno(),), name="parent-watch", daemon=True).start()


def clean_stale_partials(root: Path, *, now: float | None = None) -> list[Path]:
    """Remove ``.*.partial`` files a killed writer left under ``root``; returns what was removed.

    A partial (:func:`common.atomic.atomic_path`'s temporary) is stale when it was last written before
    this process started and at least :data:`PARTIAL_MIN_AGE_S` ago, and no process has it open
    (Linux: ``/proc/*/fd``); where the open files of some process cannot be read, only once untouched
    for :data:`PARTIAL_MAX_AGE_S`. A writer in a live concurrent run is not disturbed.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    partials = [p for p in root.rglob(".*.partial") if p.is_file()]
    if not partials:
        return []
    open_files, complete = _open_files()
    now = time.time() if now is None else now
    removed = []
    for p in partials:
        try:
            mtime = p.stat().st_mtime
            if mtime >= _STARTED or now - mtime < (PARTIAL_MIN_AGE_S if complete else PARTIAL_MAX_AGE_S):
                continue
            if str(p.resolve()) in open_files:
                continue
            p.unlink()
            removed.append(p)
        except OSError:
            continue
    return removed


def _open_files() -> tuple[set[str], bool]:
    """Paths open in any process, and whether every process could be read."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return set(), False
    paths, complete = set(), True
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            fds = list((pid_dir / "fd").iterdir())
        except FileNotFoundError:
            continue  # exited meanwhile
        except OSError:
            complete = False
            continue
        for fd in fds:
            try:
                paths.add(os.readlink(fd))
            except OSError:
                continue
    return paths, complete


def build_artifact(build: BuildRequest, progress=_emit, *, batch: int = 1, int8_profile: str | None = None):
    """Build (or reuse from the cache) the artifact of ``build`` with the exporters; returns their ``Artifact``.

    ``batch``: the artifact's static batch (the Job's ``batch`` for the throughput pass's one; 1 by default).
    ``int8_profile``: INT8 quantized with that format kind's profile (``"trt"``: a fleet engine's source ONNX).
    """
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    spec = parse_variant(build.variant, fmt=build.format)
    # A shipped <model>-prunedNN.pt beside the source is picked up by the exporter itself.
    options = dict(build.options)
    if build.student_source:
        options["student_source"] = build.student_source
    return build_variant(Path(build.source), spec, cache_dir=Path(build.cache_dir), imgsz=build.imgsz,
                         data_yaml=None if build.data_yaml is None else Path(build.data_yaml),
                         calib_images=build.calib_images, progress=progress, options=options,
                         **({"batch": batch} if batch != 1 else {}),
                         **({"int8_profile": int8_profile} if int8_profile else {}))


def work(task: dict, out: Path) -> WorkerResult:
    """Build the artifact of the task and measure it with :func:`devices.worker.run_job`."""
    from devices.worker import frame_reader, run_job

    if task.get("version") != TASK_VERSION:
        raise InputError(expected(f"task version {TASK_VERSION}", f"version {task.get('version')}", str(out)))
    build = BuildRequest.from_dict(task.get("build"))
    job = Job.from_dict(task.get("job"), where="task.job")
    clean_stale_partials(Path(build.cache_dir))
    artifact = build_artifact(build)
    write_json_atomic(out / "artifact.json", artifact.manifest)
    meta = artifact.manifest["artifact"]
    job = job.with_artifact(ArtifactRef(Path(artifact.path).name, meta["sha256"], meta["format"]))
    if job.batch > 1:
        batched = build_artifact(build, batch=job.batch)
        meta = batched.manifest["artifact"]
        job = replace(job, batch_artifact=ArtifactRef(Path(batched.path).name, meta["sha256"], meta["format"]))
    return run_job(job, artifact=Path(artifact.path), out=out, frames=frame_reader(job, Path(task["frames_root"])),
                   progress=_emit, verify=False)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    die_with_parent(int(argv[1]) if len(argv) > 1 else None)
    task_path = Path(argv[0])
    out = task_path.parent
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    try:
        work(json.loads(task_path.read_text()), out)
    except BenchError as exc:
        kind = "input" if isinstance(exc, InputError) else "dependency" if isinstance(exc, MissingDependency) else "tool"
        write_json_atomic(out / "error.json", {"message": str(exc), "kind": kind})
        print(f"bench worker: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
