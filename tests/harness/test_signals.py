"""Signals to a real `bench run` and its real worker (issue #16 class 4), and partials left by killed writers.

SIGTERM exits 143 with one line, Ctrl-C (SIGINT) 130 with one line; both kill the worker's process group
and remove the bench-run-* temp folder. SIGKILL to `bench run` cannot clean up, but the worker dies with
it (PR_SET_PDEATHSIG / its stdin pipe). Moments: while the worker builds or starts, and while it times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.worker import clean_stale_partials

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    """The worker processes `bench run` ``pid`` started."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        try:
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"harness.worker" in cmdline:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(cond, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def bench(tmp_path):
    """Start `bench run` on 2 images with a 60 s timing floor; returns (process, temp root, worker pid getter)."""
    from harness.data.synth import write_dataset

    pytest.importorskip("onnxruntime", reason="the worker needs ONNX Runtime")
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to find the worker process (Linux)")
    write_dataset(tmp_path / "d", n_train=0, n_val=2)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "YOLO_OFFLINE": "true", "YOLO_AUTOINSTALL": "false"}
    procs = []

    def start():
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "run", "--variants", "fp32", "--images", str(tmp_path / "d/images/val"),
             "--min-iters", "1", "--min-seconds", "60", "--warmup-max-s", "0.1", "--no-archive", "--json"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        worker = _wait(lambda: next(iter(_children(proc.pid)), None), 120, "the worker process")
        return proc, tmp, worker

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _run_folder(tmp: Path) -> list[Path]:
    return list(tmp.glob("bench-run-*"))


def _timing(tmp: Path) -> bool:
    """The worker built (or reused) the artifact and is timing it."""
    return any((d / "fp32" / "artifact.json").is_file() for d in _run_folder(tmp))


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["worker starting", "worker timing"])
def test_sigterm_exits_143_kills_the_worker_and_removes_the_temp_folder(bench, moment):
    proc, tmp, worker = bench()
    if moment == "worker timing":
        _wait(lambda: _timing(tmp), 180, "the worker to time the variant")
    assert _run_folder(tmp), "the run's temp folder exists while it runs"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert err.strip().splitlines() == ["bench: terminated"]
    _wait(lambda: not _alive(worker), 10, "the worker to die")
    assert _run_folder(tmp) == []


@pytest.mark.slow
def test_ctrl_c_exits_130_kills_the_worker_and_removes_the_temp_folder(bench):
    proc, tmp, worker = bench()
    _wait(lambda: _timing(tmp), 180, "the worker to time the variant")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["bench: interrupted"]
    _wait(lambda: not _alive(worker), 10, "the worker to die")
    assert _run_folder(tmp) == []


@pytest.mark.slow
def test_sigkill_to_bench_run_takes_the_worker_with_it(bench):
    proc, tmp, worker = bench()
    proc.kill()
    proc.wait()
    _wait(lambda: not _alive(worker), 10, "the orphaned worker to die")


# ------------------------------------------------------------------------------- partials in the cache

_WRITER = """
import sys, time
from pathlib import Path
from common.atomic import atomic_path
with atomic_path(Path(sys.argv[1])) as tmp:
    fh = open(tmp, "wb"); fh.write(b"half an artifact"); fh.flush()
    print("written", flush=True)
    time.sleep(120)
"""


def test_a_killed_writers_partial_is_cleaned_and_a_live_ones_kept(tmp_path):
    model_dir = tmp_path / "artifacts" / "m-0123456789ab"
    killed = subprocess.Popen([sys.executable, "-c", _WRITER, str(model_dir / "fp32-320.onnx")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    live = subprocess.Popen([sys.executable, "-c", _WRITER, str(model_dir / "int8-320.onnx")], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert killed.stdout.readline().strip() == "written" and live.stdout.readline().strip() == "written"
        killed.kill()  # SIGKILL: no finally, the partial stays
        killed.wait()
        partials = sorted(model_dir.glob(".*.partial"))
        assert len(partials) == 2
        stale = next(p for p in partials if p.name.startswith(".fp32"))
        in_use = next(p for p in partials if p.name.startswith(".int8"))
        old = time.time() - 2 * 24 * 3600
        for p in partials:
            os.utime(p, (old, old))  # both written two days ago, before this process started
        removed = clean_stale_partials(tmp_path / "artifacts")
        assert removed == [stale] and not stale.exists()
        assert in_use.exists(), "a partial a live process has open is never removed"
        # a fresh partial (written after this process started) is left alone whoever holds it
        fresh = model_dir / ".pruned30-320.onnx.x.partial"
        fresh.write_bytes(b"")
        assert clean_stale_partials(tmp_path / "artifacts") == [] and fresh.exists()
    finally:
        for p in (killed, live):
            if p.poll() is None:
                p.kill()
            p.wait()
