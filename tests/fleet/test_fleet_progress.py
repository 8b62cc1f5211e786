"""What a device is doing while its fleet row runs: the agent forwards the worker's stages to a sink
(devices.agent.execute over a fake worker interpreter), the run's board (harness.fleet_progress) and the
host's loop printing them (harness.fleet_exec.drive over a fake Ray). No Ray cluster here: the end-to-end
check is in test_cluster.py, on the cluster those tests start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from devices import agent

ROOT = Path(__file__).resolve().parents[2]

FAKE_WORKER = textwrap.dedent('''
    """Plays the device worker (``python -m devices.agent run ...``) from the steps in ``steps.json``."""
    import json, sys, time
    from pathlib import Path
    args = sys.argv[1:]
    out = Path(args[args.index("--out") + 1])
    for kind, value in json.loads(Path(__file__).with_name("steps.json").read_text()):
        if kind == "stage":
            print(json.dumps({"stage": value[0], "done": value[1], "total": value[2]}), flush=True)
        elif kind == "burst":  # many progress lines at once (timed 10, 20, ...)
            for n in range(1, value + 1):
                print(json.dumps({"stage": "timed", "done": 10 * n, "total": None}))
            sys.stdout.flush()
        elif kind == "stdout":
            print(value, flush=True)
        elif kind == "stderr":
            sys.stderr.write(value)
            sys.stderr.flush()
        elif kind == "sleep":
            time.sleep(value)
        elif kind == "exit":
            if value == 0:
                out.mkdir(parents=True)
                (out / "detections.npz").write_bytes(b"dets")
                (out / "result.json").write_text('{"fake": true}\\n')
            sys.exit(value)
''')


def _job_json() -> str:
    from common.hashing import file_sha256
    from devices.job import ArtifactRef, FrameSet, Job, NmsSettings, TimingOptions

    return Job(variant="fp32", precision="fp32", runtime="onnxruntime", device="cpu",
               artifact=ArtifactRef(agent.SELFTEST_ONNX.name, file_sha256(agent.SELFTEST_ONNX), "onnx"), imgsz=64, nc=2,
               frames=FrameSet("images", 2, ("a", "b")), nms=NmsSettings(conf=0.1, iou=0.7, max_det=50),
               timing=TimingOptions(min_iters=10, min_seconds=0.05, warmup_max_s=0.5, frames=2), threads=1).to_json()


def _fake_python(folder: Path, steps: list) -> str:
    """An executable that runs the fake worker with this interpreter (execute runs ``PYTHON -m devices.agent ...``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(FAKE_WORKER)
    (folder / "steps.json").write_text(json.dumps(steps))
    exe = folder / "python"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{folder / "worker.py"}" "$@"\n')
    exe.chmod(0o755)
    return str(exe)


def _execute(python: str, **kw) -> dict:
    return agent.execute(_job_json(), {agent.SELFTEST_ONNX.name: b"onnx"}, b"frames", python=python, **kw)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, stage: str) -> None:
        self.calls.append((time.monotonic(), stage))

    @property
    def stages(self) -> list[str]:
        return [s for _, s in self.calls]


def test_stage_text_of_the_workers_progress_lines():
    assert agent.stage_text(b'{"stage": "warmup", "done": 10, "total": null}\n') == "warmup 10"
    assert agent.stage_text(b'{"stage": "score", "done": 120, "total": 200}') == "score 120/200"
    assert agent.stage_text(b'{"stage": "building engine (cached)", "done": 1, "total": 1}') == "building engine (cached)"
    assert agent.stage_text(b'{"stage": "batch 4 timed", "done": 30, "total": null}') == "batch 4 timed 30"
    for other in (b"[TRT] [W] a library's own line", b"[1, 2]", b'{"stage": 3}', b'{"stage": "  "}', b"\xff\xfe"):
        assert agent.stage_text(other) is None


def test_the_sink_gets_the_latest_stage_in_order_at_most_once_per_interval(tmp_path, monkeypatch):
    monkeypatch.setattr(agent, "FORWARD_EVERY_S", 0.25)
    python = _fake_python(tmp_path / "w", [
        ["stage", ["warmup", 10, None]], ["stdout", "not a progress line"], ["burst", 40], ["sleep", 1.2],
        ["stage", ["score", 10, 20]], ["sleep", 1.2], ["stage", ["score", 20, 20]], ["exit", 0]])
    sink = Recorder()
    reply = _execute(python, progress=sink, timeout=60)
    assert reply["ok"] is True and reply["result"] == '{"fake": true}\n'
    emitted = ["warmup 10"] + [f"timed {10 * n}" for n in range(1, 41)] + ["score 10/20", "score 20/20"]
    positions = [emitted.index(s) for s in sink.stages]
    assert positions == sorted(set(positions)), sink.stages  # in order, each stage once
    # the latest stage before each pause reaches the sink; the burst's 40 lines are thinned out
    assert "timed 400" in sink.stages and "score 10/20" in sink.stages
    assert len([s for s in sink.stages if s.startswith("timed")]) <= 5, sink.stages
    gaps = [b[0] - a[0] for a, b in zip(sink.calls, sink.calls[1:])]
    assert all(g >= 0.25 * 0.95 for g in gaps), gaps


def test_the_reply_is_the_same_with_and_without_a_sink(tmp_path):
    cases = {
        "ok": [["stage", ["warmup", 10, None]], ["stderr", "a warning\n" * 40], ["exit", 0]],
        "its own error": [["stage", ["timed", 10, None]], ["stderr", "bench agent: error: frames: expected x, got y\n"],
                          ["exit", 2]],
        "a crash": [["stderr", "Traceback (most recent call last):\nValueError: bad\n"], ["exit", 1]],
    }
    for name, steps in cases.items():
        python = _fake_python(tmp_path / name, steps)
        sink = Recorder()
        with_sink, without = _execute(python, progress=sink, timeout=60), _execute(python, timeout=60)
        assert with_sink == without, name
    assert without["error"] == "worker crashed (exit 1): ValueError: bad"


def test_a_worker_past_its_timeout_is_killed_with_a_sink_as_without(tmp_path):
    python = _fake_python(tmp_path / "w", [["stage", ["warmup", 10, None]], ["stderr", "started\n"], ["sleep", 60],
                                           ["exit", 0]])
    started = time.monotonic()
    with_sink = _execute(python, progress=Recorder(), timeout=1.5)
    assert time.monotonic() - started < 30  # killed at its timeout, not after the 60 s sleep
    assert with_sink == _execute(python, timeout=1.5)
    assert with_sink["error"] == ("timed out after 1.5 s (in stage: warmup 10) and was killed; raise --timeout to "
                                  "give it longer") and with_sink["stderr_tail"] == "started"


def test_both_pipes_are_drained_when_the_worker_writes_a_lot(tmp_path):
    python = _fake_python(tmp_path / "w", [["burst", 20000], ["stderr", "y\n" * 100000],
                                           ["burst", 20000], ["sleep", 1.5], ["exit", 0]])
    sink = Recorder()
    reply = _execute(python, progress=sink, timeout=120)
    assert reply["ok"] is True and reply["stderr_tail"] == "\n".join(["y"] * 25)
    assert sink.stages[-1] == "timed 200000"  # every line read, to the last


def test_a_sink_that_raises_is_dropped_and_the_job_still_answers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(agent, "FORWARD_EVERY_S", 0.2)
    python = _fake_python(tmp_path / "w", [["stage", ["warmup", 10, None]], ["sleep", 0.6],
                                           ["stage", ["timed", 10, None]], ["sleep", 0.6], ["exit", 0]])
    calls = []

    def broken(stage: str) -> None:
        calls.append(stage)
        raise ConnectionError("the host's board is gone")

    reply = _execute(python, progress=broken, timeout=60)
    assert reply["ok"] is True and calls == ["warmup 10"]
    assert ("bench agent: the progress sink failed (ConnectionError: the host's board is gone); no more stages are "
            "sent for this job") in capsys.readouterr().err  # the cause stays in the device's log


def test_describe_says_execute_takes_a_sink_and_the_host_checks_it():
    from harness.fleet_progress import accepts_sink

    assert agent.describe()["progress_sink"] == 1 and accepts_sink(agent.describe())
    assert not accepts_sink({"job_versions": [1, 2]})  # an agent older than the sink: never passed one
    assert not accepts_sink({"progress_sink": True}) and not accepts_sink({"progress_sink": "1"})


def _py38() -> Path:
    path = Path(os.environ.get("BENCH_PY38") or Path.home() / ".cache" / "edge-bench" / "venv-py38" / "bin" / "python")
    if not path.is_file():
        pytest.skip(f"no Python 3.8 device venv at {path} (.ci/run makes it where pyenv or PATH has Python 3.8)")
    return path


def test_forwarding_under_python38(tmp_path):
    py = _py38()
    python = _fake_python(tmp_path / "w", [["stage", ["building engine", 0, 1]], ["sleep", 1.5],
                                           ["stage", ["score", 2, 2]], ["sleep", 1.5], ["exit", 0]])
    code = ("import json, sys; from devices import agent; got = []; "
            "r = agent.execute(sys.argv[1], {'selftest.onnx': b'onnx'}, b'frames', python=sys.argv[2], timeout=60, "
            "progress=got.append); print(json.dumps([sys.version_info[:2], r['ok'], got]))")
    proc = subprocess.run([str(py), "-c", code, _job_json(), python], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    version, ok, got = json.loads(proc.stdout.splitlines()[-1])
    assert version == [3, 8] and ok is True and got == ["building engine", "score 2/2"]


# -- the host: the board and the loop ------------------------------------------------------------------------


class RayError(Exception):
    pass


class FakeRef:
    def __init__(self, value=None, error: Exception | None = None, ready_after: int = 0) -> None:
        self.value, self.error, self.ready_after = value, error, ready_after


class FakeRay:
    """The few calls drive() and the board make; a task's reply is ready after a few waits."""

    exceptions = SimpleNamespace(RayError=RayError, NodeDiedError=type("NodeDiedError", (RayError,), {}))

    def __init__(self, *, interrupt_after: int | None = None) -> None:
        self.submitted: list[dict] = []
        self.cancelled: list = []
        self.killed: list = []
        self.waits = 0
        self.interrupt_after = interrupt_after
        self.kill_error: Exception | None = None
        self.initialized = True

    def remote(self, fn):
        ray = self

        class Task:
            def options(self, **kw):
                return self

            def remote(self, *args, **kw):
                ray.submitted.append(kw)
                return FakeRef({"ok": False, "error": "boom", "stderr_tail": ""}, ready_after=3)

        return Task()

    def wait(self, refs, num_returns=1, timeout=None):
        self.waits += 1
        if self.interrupt_after is not None and self.waits > self.interrupt_after:
            raise KeyboardInterrupt
        for ref in refs:
            ref.ready_after -= 1
        return [r for r in refs if r.ready_after <= 0], [r for r in refs if r.ready_after > 0]

    def get(self, ref):
        if ref.error is not None:
            raise ref.error
        return ref.value

    def cancel(self, ref, force=False):
        self.cancelled.append(ref)

    def kill(self, actor, no_restart=True):
        self.killed.append(actor)
        if self.kill_error is not None:
            raise self.kill_error

    def is_initialized(self):
        return self.initialized

    def available_resources(self):
        return {"bench-device:a": 1.0, "bench-device:b": 1.0}


class FakeActor:
    def __init__(self, snapshots: list) -> None:
        self.snapshots = snapshots
        self.snapshot = SimpleNamespace(remote=lambda: FakeRef(**self.snapshots.pop(0)))


def test_the_board_is_read_without_blocking_and_closed_once():
    from harness.fleet_progress import Board

    ray, said = FakeRay(), []
    actor = FakeActor([{"value": {"a": ("fp32", "warmup 10", 1.0)}, "ready_after": 2},
                       {"value": {"a": ("fp32", "timed 350", 2.0)}}, {"value": {}}])
    board = Board(ray, actor, say=said.append)
    board.poll()  # asks
    board.poll()  # not there yet: nothing changes, nothing else asked
    assert board.stages == {} and len(actor.snapshots) == 2
    board.poll()
    assert board.stage("a", "fp32") == "warmup 10" and board.stage("a", "int8") is None and board.stage("b", "x") is None
    board.poll()
    assert board.stage("a", "fp32") == "timed 350"
    assert board.sink("a", "fp32").row == "fp32"
    board.close()
    board.close()
    assert ray.killed == [actor] and not board.alive and board.sink("a", "fp32") is None and said == []


def test_a_board_that_dies_is_one_line_and_the_run_goes_on():
    from harness.fleet_progress import Board, open_board

    ray, said = FakeRay(), []
    board = Board(ray, FakeActor([{"error": RayError("actor died")}]), say=said.append)
    board.poll()
    board.poll()
    assert not board.alive and said == ["the devices' progress is no longer shown: the run's progress board failed "
                                        "(RayError)"]
    assert len(ray.killed) == 1
    said.clear()
    assert open_board(SimpleNamespace(), say=said.append) is None  # no get_runtime_context: cannot start
    assert len(said) == 1 and said[0].startswith("the devices' progress will not be shown: its board could not be started")


def test_closing_the_board_ignores_only_ray_failing_to_kill_it_and_never_restarts_ray():
    from harness.fleet_progress import Board

    ray = FakeRay()
    ray.kill_error = RayError("the cluster is gone")
    board = Board(ray, FakeActor([]), say=print)
    board.close()  # Ray's own failure: the actor dies with the driver anyway
    assert not board.alive and len(ray.killed) == 1

    ray.kill_error = ValueError("ray.kill() only supported for actors")
    with pytest.raises(ValueError):  # not Ray's failure but a bug: it is not hidden
        Board(ray, FakeActor([]), say=print).close()

    ray = FakeRay()
    ray.initialized = False  # after ray.shutdown(), ray.kill would start (or join) a Ray cluster just to kill
    board = Board(ray, FakeActor([]), say=print)
    board.close()
    assert ray.killed == [] and not board.alive


class FakeBoard:
    def __init__(self, stages: dict) -> None:
        self.stages_ = stages
        self.alive = True
        self.polls = 0
        self.closed = 0

    def poll(self):
        self.polls += 1

    def stage(self, device, row):
        got = self.stages_.get(device)
        return got[1] if got and got[0] == row else None

    def sink(self, device, row):
        return ("sink", device, row)

    def close(self):
        self.closed += 1


def _lanes():
    from harness.fleet_exec import Lane

    job = SimpleNamespace(with_artifact=lambda ref: SimpleNamespace(to_json=lambda: "{}"))
    lanes = []
    for name, agent_info in (("a", {"progress_sink": 1}), ("b", {"job_versions": [1, 2]})):
        dev = SimpleNamespace(name=name, agent=agent_info, profile="cpu", python=None)
        lanes.append(Lane(device=dev, resolved=None, plan=[], todo=[(SimpleNamespace(name="fp32"), job, "k")]))
    return lanes


def _drive(monkeypatch, ray, board, capsys):
    from harness import fleet, fleet_exec, fleet_progress

    monkeypatch.setattr(fleet, "ray_module", lambda: ray)
    monkeypatch.setattr(fleet, "is_alive", lambda name: True)
    monkeypatch.setattr(fleet_progress, "open_board", lambda ray, say: board)
    monkeypatch.setattr(fleet_exec, "BUSY_NOTE_EVERY_S", 0.0)  # a note on every turn of the loop
    monkeypatch.setattr(fleet_exec, "POLL_S", 0.01)
    lanes = _lanes()
    try:
        fleet_exec.drive(lanes, {"k": ("art", "ref", {})}, "frames", {"cpu": "{}"}, SimpleNamespace(timeout=60),
                         SimpleNamespace(queue_timeout=None))
    finally:
        err = capsys.readouterr().err.splitlines()
    return lanes, err


def test_the_loop_prints_each_devices_stage_and_closes_the_board(monkeypatch, capsys):
    ray, board = FakeRay(), FakeBoard({"a": ("fp32", "building engine", 5.0), "b": ("int8", "stale", 1.0)})
    lanes, err = _drive(monkeypatch, ray, board, capsys)
    assert [kw.get("progress") for kw in ray.submitted] == [("sink", "a", "fp32"), None]  # b: an older agent
    assert "fleet: a: fp32 building engine (0 s)" in err
    assert "fleet: b: fp32 running (0 s)" in err  # b said nothing about this row
    assert err.count("fleet: device b's agent does not report its stages (it joined with an older bench): only the "
                     "time since its row started is shown") == 1
    assert board.closed == 1 and board.polls >= 1
    assert [lane.outcomes["fp32"].status for lane in lanes] == ["failed", "failed"]


def test_without_a_board_the_run_goes_on_with_elapsed_time_only(monkeypatch, capsys):
    ray = FakeRay()
    lanes, err = _drive(monkeypatch, ray, None, capsys)
    assert all("progress" not in kw for kw in ray.submitted)
    assert "fleet: a: fp32 running (0 s)" in err and not any("does not report" in ln for ln in err)
    assert all(lane.outcomes for lane in lanes)


def test_ctrl_c_cancels_the_tasks_and_closes_the_board(monkeypatch, capsys):
    ray, board = FakeRay(interrupt_after=1), FakeBoard({})
    with pytest.raises(KeyboardInterrupt):
        _drive(monkeypatch, ray, board, capsys)
    assert len(ray.cancelled) == 2 and board.closed == 1
