"""The device agent: what a fleet device runs, and a one-command check that the device side works here.

Three entry points, all runnable on Python 3.8 with only numpy, psutil and a runtime (onnxruntime, or
tensorrt with cuda-python) installed and ``PYTHONPATH`` at a bench checkout:

* ``python -m devices.agent --selftest`` runs a tiny job end to end through :mod:`devices.worker`
  (the shipped ``devices/data/selftest.onnx``, a few synthetic frames, the ``cpu`` profile) and prints
  ONE JSON line: ``{"selftest": "ok", "python": ..., "fps": ..., ...}`` (exit 0) or
  ``{"selftest": "failed", "error": ...}`` (exit 2).
* ``python -m devices.agent --describe`` prints one JSON line describing this interpreter: Python
  version, runtimes and their versions, the preprocessing backend, the job version it reads.
* ``python -m devices.agent run JOB.json --artifact FILE --frames FRAMES.npz --out DIR [--profile P.json]``
  measures one job on frames shipped as decoded arrays (the fleet's remote path: the host decodes,
  so the device needs no image codec). Progress goes to stdout as JSON lines; ``DIR/result.json``
  and ``DIR/detections.npz`` are left as :mod:`devices.worker` writes them, with the preprocessing
  backend added to the result's ``runtime`` block (``"preprocess": "opencv"`` or ``"numpy"``).
  A job with an ``engine`` block (a TensorRT row) ships the ONNX: the engine is built from it first
  with this device's TensorRT, or reused from the device's engine cache (:func:`devices.trt_engine.engine_job`;
  progress ``building engine``), and measured; the result's ``runtime.engine`` says which TensorRT
  built it, in how many seconds, and whether it was reused. A failed build fails the job in one line.

A profile shipped as JSON (``--profile``) is used instead of the bundled YAML, so a device without
PyYAML can load the profile the host resolved.

:func:`execute` is the body of one fleet task (``bench run --cluster``): the host calls it through Ray on
the device's node, and it runs ``run`` above under the interpreter the device joined with.

Example:
    >>> frames = synthetic_frames(2, seed=0)
    >>> [f.shape for f in frames]
    [(48, 80, 3), (72, 56, 3)]
    >>> [f.shape for f in load_frames(save_frames_bytes(frames))]
    [(48, 80, 3), (72, 56, 3)]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from common.errors import BenchError, InputError, expected

__all__ = ["SELFTEST_ONNX", "SELFTEST_PROFILE", "describe", "execute", "load_frames", "main", "preprocess_backend",
           "run", "save_frames_bytes", "selftest", "stage_of", "stage_text", "synthetic_frames", "timed_out_words"]

DATA = Path(__file__).with_name("data")
SELFTEST_ONNX = DATA / "selftest.onnx"
SELFTEST_PROFILE = DATA / "selftest-profile.json"  # the cpu profile as JSON (written by make_selftest_onnx.py)
SELFTEST_FRAMES = 4
FORWARD_EVERY_S = 1.0  # execute's progress sink gets the worker's latest stage at most this often
PROGRESS_SINK = 1  # describe()'s "progress_sink": execute takes a progress sink (older agents lack the key)
_SHAPES = ((48, 80), (72, 56), (64, 64), (40, 100))


def preprocess_backend() -> str:
    """``"opencv"`` where cv2 imports (the letterbox of every local run), else ``"numpy"``."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return "numpy"
    return "opencv"


def synthetic_frames(n: int, *, seed: int = 0) -> List[Any]:
    """``n`` BGR ``uint8`` frames of a few sizes (letterboxing is exercised), deterministic per seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(*_SHAPES[i % len(_SHAPES)], 3), dtype=np.uint8) for i in range(n)]


def save_frames_bytes(frames: Sequence[Any]) -> bytes:
    """Decoded frames as one uncompressed ``.npz`` (arrays ``f00000``, ``f00001``, ... in order)."""
    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, **{f"f{i:05d}": f for i, f in enumerate(frames)})
    return buf.getvalue()


def load_frames(source: Any) -> List[Any]:
    """Frames written by :func:`save_frames_bytes` (bytes or a path), in order.

    Raises:
        InputError: not a frames file, or a frame that is not an HxWx3 ``uint8`` array.
    """
    import numpy as np

    where = "frames" if isinstance(source, (bytes, bytearray)) else str(source)
    try:
        with np.load(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source,
                     allow_pickle=False) as z:
            frames = [z[k] for k in sorted(z.files)]
    except (OSError, ValueError) as exc:
        raise InputError(expected("a frames .npz written by the host", f"{exc.__class__.__name__}: {exc}", where)) from None
    for i, f in enumerate(frames):
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            raise InputError(expected("HxWx3 uint8 frames", f"{f.dtype} {f.shape}", f"{where} frame {i}"))
    return frames


def array_reader(frames: Sequence[Any]):
    """A :data:`devices.worker.FrameReader` over frames already in memory."""

    def read(limit: Optional[int] = None) -> Iterator:
        return iter(frames if limit is None else frames[:limit])

    return read


def describe() -> Dict[str, Any]:
    """This interpreter as a fleet device sees it (nothing is measured)."""
    from devices.job import JOB_VERSION, JOB_VERSIONS, RESULT_VERSION
    from devices.runtimes import probe_runtimes

    runtimes = {}
    for name, status in probe_runtimes().items():
        entry = {"available": bool(status.available), "version": status.version}
        if status.providers:
            entry["providers"] = list(status.providers)
        if not status.available:
            entry["reason"] = status.reason
        runtimes[name] = entry
    return {"python": platform.python_version(), "executable": sys.executable, "machine": platform.machine(),
            "runtimes": runtimes, "preprocess": preprocess_backend(), "job_version": JOB_VERSION,
            "job_versions": list(JOB_VERSIONS), "result_version": RESULT_VERSION, "progress_sink": PROGRESS_SINK}


def _profile_arg(job, profile_json: Optional[Path]):
    """The job, pointed at a JSON profile file when one is shipped (the profile's name is unchanged)."""
    if profile_json is None:
        return job
    return replace(job, device=str(Path(profile_json).resolve()))


def run(job_path: Path, *, artifact: Path, frames: Path, out: Path, profile_json: Optional[Path] = None,
        progress=None, engine_kwargs: Optional[Dict[str, Any]] = None):
    """Measure the job in ``job_path`` on shipped frames; returns the :class:`devices.job.WorkerResult`.

    A job with an ``engine`` block has its engine built (or reused) from ``artifact`` first.

    Args:
        engine_kwargs: for :func:`devices.trt_engine.cached_engine` (tests inject a fake ``trt`` and ``tag``).

    Raises:
        InputError: a bad job, frames or artifact file; RuntimeFailure and MissingDependency from the runtime;
            BenchError from the engine build (MissingDependency where TensorRT is not installed).
    """
    from common.atomic import write_text_atomic
    from devices.job import Job
    from devices.worker import RESULT_FILE, run_job

    try:
        text = Path(job_path).read_text()
    except OSError as exc:
        raise InputError(expected("a readable job file", exc.strerror or str(exc), str(job_path))) from None
    job = Job.from_json(text, where=str(job_path))
    device_name = job.device
    engine = None
    if job.engine is not None:
        from devices.trt_engine import engine_job

        job, artifact, engine = engine_job(job, Path(artifact), progress=progress, **(engine_kwargs or {}))
    result = run_job(_profile_arg(job, profile_json), artifact=artifact, out=out, frames=array_reader(load_frames(frames)),
                     progress=progress)
    runtime = dict(result.runtime)
    if engine is not None:
        runtime["engine"] = engine
    runtime["preprocess"] = preprocess_backend()
    runtime.setdefault("profile", device_name)
    result = replace(result, runtime=runtime)
    write_text_atomic(Path(out) / RESULT_FILE, result.to_json() + "\n")
    return result


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: the worker is SIGKILLed when the process that started it dies (a cancelled Ray task)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def execute(job_json: str, files: Dict[str, bytes], frames: bytes, *, profile_json: Optional[str] = None,
            python: Optional[str] = None, timeout: float = 1800.0,
            progress: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """One fleet task, on the device: measure a job under the device's worker interpreter; never raises.

    Called by the host through Ray on the device's node (the node's own Python), it writes the job, the
    artifact's files (``{file name: bytes}``: the one the job names and those beside it, e.g. an OpenVINO
    IR's ``.bin``), the frames and the profile into a temporary folder and runs ``PYTHON -m devices.agent run ...``
    (``python``: the interpreter the device joined with, e.g. JetPack 5's Python 3.8 with its TensorRT
    bindings; None: this one), killed after ``timeout`` seconds or when this process dies.

    Args:
        progress: where the worker's latest stage goes while it runs (``"building engine"``, ``"warmup 10"``,
            ``"timed 350"``, ``"score 120/200"``: :func:`stage_text` of its progress lines), at most about
            once a second, from this thread; the host passes it only to agents whose :func:`describe` has
            ``progress_sink`` (older agents lack the argument). A sink that raises is dropped, never fails
            the job. None: the worker's stdout is discarded, as before there was a sink.

    Returns:
        ``{"ok": True, "result": <WorkerResult JSON>, "detections": <npz bytes>, "host": ...}``, or
        ``{"ok": False, "error": <one line>, "stderr_tail": ..., "host": ...}``.
    """
    import os
    import socket
    import subprocess

    from devices.job import DETECTIONS_FILE, Job
    from devices.worker import RESULT_FILE

    host = socket.gethostname()
    interpreter = python or sys.executable
    try:
        job = Job.from_json(job_json)
    except BenchError as exc:
        return {"ok": False, "error": str(exc), "stderr_tail": "", "host": host}
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        folder = Path(tmp)
        name = job.artifact.name if job.artifact is not None else "artifact"
        (folder / "job.json").write_text(job_json)
        for file_name, blob in files.items():
            (folder / Path(file_name).name).write_bytes(blob)
        (folder / "frames.npz").write_bytes(frames)
        cmd = [interpreter, "-m", "devices.agent", "run", str(folder / "job.json"), "--artifact", str(folder / name),
               "--frames", str(folder / "frames.npz"), "--out", str(folder / "out")]
        if profile_json is not None:
            (folder / "profile.json").write_text(profile_json)
            cmd += ["--profile", str(folder / "profile.json")]
        checkout = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (checkout, os.environ.get("PYTHONPATH")) if p))
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=tmp, env=env,
                                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        except OSError as exc:
            return {"ok": False, "host": host, "stderr_tail": "",
                    "error": f"the device's worker interpreter {interpreter} cannot be started ({exc.strerror or exc}); "
                             "rejoin with --python naming a Python >= 3.8 that has numpy, psutil and its runtime"}
        err, timed_out, stage = _wait(proc, timeout, progress)
        if timed_out:
            return {"ok": False, "host": host, "stderr_tail": _tail(err), "error": timed_out_words(timeout, stage)}
        tail = _tail(err)
        if proc.returncode == 0 and (folder / "out" / RESULT_FILE).is_file():
            return {"ok": True, "host": host, "result": (folder / "out" / RESULT_FILE).read_text(),
                    "detections": (folder / "out" / DETECTIONS_FILE).read_bytes(), "stderr_tail": tail}
        lines = [ln for ln in tail.splitlines() if ln.strip()]
        mine = [ln for ln in lines if ln.startswith("bench agent: error: ")]
        if proc.returncode == 2 and mine:
            error = mine[-1][len("bench agent: error: "):]
        elif proc.returncode < 0:
            error = f"worker killed by signal {-proc.returncode}"
        else:
            error = f"worker crashed (exit {proc.returncode}): {(lines[-1] if lines else 'no output')[:200]}"
        return {"ok": False, "host": host, "error": error, "stderr_tail": tail}


def timed_out_words(timeout: float, stage: Optional[str]) -> str:
    """Why a worker killed at its timeout failed, with the stage it was in when known (the local run's words too).

    Example:
        >>> timed_out_words(1800, "building engine")
        'timed out after 1800 s (in stage: building engine) and was killed; raise --timeout to give it longer'
    """
    where = f" (in stage: {stage})" if stage else ""
    return f"timed out after {timeout:g} s{where} and was killed; raise --timeout to give it longer"


def stage_text(line: bytes) -> Optional[str]:
    """The stage one progress line of ``run`` names, as a short text; None for anything else.

    Example:
        >>> stage_text(b'{"stage": "score", "done": 120, "total": 200}')
        'score 120/200'
        >>> stage_text(b'{"stage": "timed", "done": 350, "total": null}')
        'timed 350'
        >>> stage_text(b'{"stage": "building engine", "done": 0, "total": 1}')
        'building engine'
        >>> stage_text(b"[TRT] some library's own output") is None
        True
    """
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    return stage_of(msg)


def stage_of(msg: Any) -> Optional[str]:
    """:func:`stage_text` of a progress line already parsed (None unless it is a stage message)."""
    if not isinstance(msg, dict) or not isinstance(msg.get("stage"), str) or not msg["stage"].strip():
        return None
    stage, done, total = " ".join(msg["stage"].split())[:60], msg.get("done"), msg.get("total")
    if not isinstance(done, int) or isinstance(done, bool):
        return stage
    if total is None:
        return f"{stage} {done}"
    return f"{stage} {done}/{total}" if isinstance(total, int) and total > 1 else stage


def _wait(proc, timeout: float, progress: Optional[Callable[[str], None]]) -> Tuple[bytes, bool, Optional[str]]:
    """Wait for the worker, killing it at ``timeout``; returns its stderr, whether it was killed, and the last
    stage it reported. Its progress lines are read as they come (stdout and stderr each drained by a thread)
    and the latest stage goes to ``progress`` (when given) at most every :data:`FORWARD_EVERY_S`."""
    import subprocess
    import threading

    chunks = []  # type: List[bytes]
    latest = [None]  # type: List[Optional[str]]  # the last stage read (a single slot: the reader thread writes it)

    def drain_stderr() -> None:
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):
            chunks.append(chunk)

    def read_stages() -> None:
        for line in proc.stdout:
            text = stage_text(line[:2000])
            if text is not None:
                latest[0] = text

    readers = [threading.Thread(target=drain_stderr, daemon=True), threading.Thread(target=read_stages, daemon=True)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    sink = progress  # type: Optional[Callable[[str], None]]
    sent = None  # type: Optional[str]
    timed_out = False
    while True:
        try:
            proc.wait(timeout=max(0.0, min(FORWARD_EVERY_S, deadline - time.monotonic())))
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                proc.kill()
                proc.wait()
                timed_out = True
                break
        stage = latest[0]
        if sink is not None and stage is not None and stage != sent:
            sent = stage
            try:
                sink(stage)
            except Exception as exc:  # noqa: BLE001 - the sink is the host's display: losing it must never fail the job
                print(f"bench agent: the progress sink failed ({exc.__class__.__name__}: {str(exc)[:200]}); "
                      "no more stages are sent for this job", file=sys.stderr)
                sink = None
    for reader in readers:
        reader.join()
    proc.stdout.close()
    proc.stderr.close()
    return b"".join(chunks), timed_out, latest[0]


def _tail(err: bytes, n: int = 25) -> str:
    return "\n".join(err.decode("utf-8", "replace").splitlines()[-n:])


def selftest(*, frames: int = SELFTEST_FRAMES) -> Dict[str, Any]:
    """Run the shipped tiny model end to end here; returns the one-line summary (see the module docstring)."""
    import numpy as np

    from common.hashing import file_sha256
    from devices.job import DETECTIONS_FILE, ArtifactRef, FrameSet, Job, NmsSettings, TimingOptions

    t0 = time.monotonic()
    job = Job(variant="selftest", precision="fp32", runtime="onnxruntime", device="cpu",
              artifact=ArtifactRef(SELFTEST_ONNX.name, file_sha256(SELFTEST_ONNX), "onnx"), imgsz=64, nc=2,
              frames=FrameSet("images", frames, tuple(f"synthetic_{i}" for i in range(frames))),
              nms=NmsSettings(conf=0.1, iou=0.7, max_det=50),
              timing=TimingOptions(min_iters=10, min_seconds=0.05, warmup_max_s=0.5, frames=frames), threads=1)
    with tempfile.TemporaryDirectory(prefix="bench-selftest-") as tmp:
        job_path, frames_path = Path(tmp) / "job.json", Path(tmp) / "frames.npz"
        job_path.write_text(job.to_json())
        frames_path.write_bytes(save_frames_bytes(synthetic_frames(frames)))
        result = run(job_path, artifact=SELFTEST_ONNX, frames=frames_path, out=Path(tmp) / "out",
                     profile_json=SELFTEST_PROFILE)
        with np.load(Path(tmp) / "out" / DETECTIONS_FILE) as z:
            n_dets = int(len(z["scores"]))
    e2e = [float(x) for x in (result.timing.get("stages_ms") or {}).get("end_to_end") or ()]
    return {"selftest": "ok", "python": platform.python_version(), "runtime": result.runtime.get("runtime"),
            "runtime_version": result.runtime.get("version"), "preprocess": result.runtime.get("preprocess"),
            "frames": result.n_frames, "detections": n_dets, "fps": result.timing.get("fps"),
            "p50_ms": float(np.percentile(e2e, 50)) if e2e else None, "timed_iterations": len(e2e),
            "versions": result.versions, "seconds": round(time.monotonic() - t0, 3)}


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m devices.agent --selftest | --describe | run JOB ...`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m devices.agent", description="bench's device agent")
    parser.add_argument("--selftest", action="store_true", help="run a tiny job end to end; print one JSON line")
    parser.add_argument("--describe", action="store_true", help="print this interpreter's runtimes as one JSON line")
    sub = parser.add_subparsers(dest="command")
    r = sub.add_parser("run", help="measure one job on shipped frames")
    r.add_argument("job", type=Path)
    r.add_argument("--artifact", type=Path, required=True)
    r.add_argument("--frames", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--profile", type=Path, help="the device profile as JSON (instead of the bundled YAML)")
    args = parser.parse_args(argv)
    if args.selftest:
        try:
            line = selftest()
        except Exception as exc:  # noqa: BLE001 - a selftest reports any failure as its one JSON line, with the cause
            import traceback

            last = traceback.extract_tb(exc.__traceback__)[-1]
            print(json.dumps({"selftest": "failed", "python": platform.python_version(),
                              "error": f"{exc.__class__.__name__}: {exc}", "at": f"{last.filename}:{last.lineno}"}))
            return 2
        print(json.dumps(line))
        return 0
    if args.describe:
        print(json.dumps(describe()))
        return 0
    if args.command != "run":
        parser.print_usage(sys.stderr)
        return 2

    def emit(stage: str, done: int, total: Optional[int]) -> None:
        print(json.dumps({"stage": stage, "done": done, "total": total}), flush=True)

    try:
        run(args.job, artifact=args.artifact, frames=args.frames, out=args.out, profile_json=args.profile, progress=emit)
    except BenchError as exc:  # MissingDependency (a runtime not installed) included: its line says what to install
        print(f"bench agent: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
