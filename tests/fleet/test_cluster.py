"""The fleet on a REAL local Ray cluster: a head (``ray start --head``) and devices joined with
``bench fleet join`` (each its own raylet, on this machine), cpu profile, one CPU and a small object
store each. Slow: a few minutes on 2 cores. Order matters: the last test kills a device."""

from __future__ import annotations

import json
import os
import secrets
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray not installed (pip install 'edge-bench[fleet]')")
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUN_ARGS = ("--variants", "fp32,int8", "--limit", "6", "--min-iters", "10", "--bootstrap", "0")
# Ray's token authentication on, with this session's own token: every process of the test cluster (head,
# joined devices, drivers) agrees on it, whatever ~/.ray/auth_token holds here (a plain ray.init() on Ray >= 2.59
# writes one, and with RAY_AUTH_MODE unset the head and a driver then disagree). It is also how Ray will start
# every cluster by default (2.61), so the fleet is tested the way it will be run.
ENV = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", YOLO_OFFLINE="true", YOLO_AUTOINSTALL="false",
           RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def _stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("ray") / "head.log"
    ray_bin = Path(sys.executable).with_name("ray")
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(ray_bin), "start", "--head", "--port", str(port), "--num-cpus", "1",
                                 "--object-store-memory", str(100 * 1024 * 1024), "--include-dashboard", "false",
                                 "--ray-client-server-port", str(_free_port()), "--disable-usage-stats", "--block"],
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=ENV)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop_group(proc)
                pytest.fail(f"the Ray head did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
    time.sleep(3)  # the GCS answers before the head's raylet registered
    yield f"127.0.0.1:{port}"
    _stop_group(proc)


def _join(address: str, name: str) -> subprocess.Popen:
    """``bench fleet join ADDRESS --name NAME`` in the background; returns once it says it joined."""
    proc = subprocess.Popen([sys.executable, "-m", "harness", "fleet", "join", address, "--name", name, "--device", "cpu",
                             "--object-store-mb", "100"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=ENV)
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=180)
    if not first or not first[0].startswith(f"joined {address} as device {name}: profile cpu"):
        _stop_group(proc, signal.SIGKILL)
        pytest.fail(f"join {name} failed: {first} {proc.stderr.read() if proc.poll() is not None else ''}")
    return proc


def _kill_node(join: subprocess.Popen) -> None:
    """SIGKILL the device's Ray node (``ray start --block`` and its processes), as a device that dies."""
    starts = [c for c in psutil.Process(join.pid).children() if "start" in " ".join(c.cmdline())]
    assert starts, "no ray start under the join"
    os.killpg(starts[0].pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def devices(head):
    joined = [_join(head, "a"), _join(head, "b")]  # one after the other: two raylets starting at once race
    yield joined
    for proc in joined:
        _stop_group(proc)


def _records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("*.json"))]


def _accuracy(record: dict) -> dict:
    return {v["name"]: (v.get("status"), v.get("accuracy"), v.get("vs_reference"), v.get("localization"))
            for v in record["variants"]}


def test_a_cluster_without_bench_devices_is_one_line(head):
    proc = _bench("fleet", "nodes", head)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == [
        f"no bench device in the Ray cluster at {head} (join one: bench fleet join {head} --name NAME)"]


def test_a_process_without_the_cluster_token_is_told_so_in_one_line(head, tmp_path):
    """The head uses token authentication (ENV): a driver or device without its token gets one line saying
    what to set, not "expected a running Ray cluster" (the head is running; it refused the token)."""
    # a different token (a missing one takes the same path: about 20 s of Ray's retries each, so one case here;
    # tests/fleet/test_fleet_options.py tells the two errors apart without a cluster)
    env = dict(ENV, RAY_AUTH_TOKEN=secrets.token_hex(32), HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "harness", "fleet", "nodes", head], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"bench: error: {head}: expected this process to hold the cluster's Ray token"), last
    assert "RAY_AUTH_MODE=token" in last and "refused this process's token" in last


def test_two_devices_joined_on_one_machine_are_listed_free(head, devices):
    proc = _bench("fleet", "nodes", head, "--json")
    assert proc.returncode == 0, proc.stderr
    listed = {d["name"]: d for d in json.loads(proc.stdout)}
    assert sorted(listed) == ["a", "b"]
    for d in listed.values():
        assert d["profile"] == "cpu" and d["status"] == "free" and d["runtimes"]["onnxruntime"]["available"]
        assert d["python_version"] == ".".join(map(str, sys.version_info[:3]))
    table = _bench("fleet", "nodes", head).stdout.splitlines()
    assert table[0].split() == ["device", "profile", "python", "runtimes", "status", "node"]
    assert [ln.split()[0] for ln in table[1:]] == ["a", "b"]


def test_run_on_two_devices_archives_two_records_with_a_local_runs_accuracy(head, devices, tmp_path):
    proc = _bench("run", "--cluster", head, "--on", "a,b", *RUN_ARGS, "--min-seconds", "0.2",
                  "--archive", str(tmp_path / "fleet"), "--release", "r1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout[proc.stdout.index("== all devices =="):].splitlines()[1:]
    assert table[0].split()[:3] == ["device", "profile", "variant"]
    assert [(r.split()[0], r.split()[2], r.split()[-1]) for r in table[1:]] == [
        ("a", "fp32", "ok"), ("a", "int8", "ok"), ("b", "fp32", "ok"), ("b", "int8", "ok")]
    records = _records(tmp_path / "fleet")
    assert sorted(r["device"]["hardware"]["hardware"]["fleet"]["device"] for r in records) == ["a", "b"]
    assert all(r["device"]["profile"] == "cpu" and "/r1/cpu/" in p.as_posix()
               for r, p in zip(records, sorted((tmp_path / "fleet").rglob("*.json"))))

    local = _bench("run", *RUN_ARGS, "--min-seconds", "0.2", "--no-archive", "--json")
    assert local.returncode == 0, local.stderr[-3000:]
    expected = _accuracy(json.loads(local.stdout))
    assert expected["int8"][1]["map50_95"] > 0
    for record in records:
        assert _accuracy(record) == expected  # scored on the host from the device's detections: to the last digit


HOLDER = """
import subprocess, sys, time
import ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
hold = ray.remote(subprocess.call).options(num_cpus=0, resources={"bench-device:b": 1}, max_retries=0)
ref = hold.remote(["sleep", "60"])
deadline = time.monotonic() + 60
while ray.available_resources().get("bench-device:b", 0.0) >= 1.0:
    if time.monotonic() > deadline:
        sys.exit("the holding task never started")
    time.sleep(0.5)
print("held", flush=True)
sys.stdin.read()  # until the test closes it
ray.cancel(ref, force=True)
"""


def test_a_busy_device_is_waited_for_and_its_rows_fail_after_the_queue_timeout(head, devices):
    # another benchmark holds device b: a driver of its own (with the cluster's token, like every process here)
    # runs a task asking for b's resource until the test lets it go
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, head], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
    try:
        said = holder.stdout.readline()
        assert said == "held\n", holder.stderr.read()[-3000:] if holder.poll() is not None else said
        nodes = _bench("fleet", "nodes", head).stdout.splitlines()
        assert [ln.split()[-2] for ln in nodes[1:]] == ["free", "busy"]
        proc = _bench("run", "--cluster", head, "--on", "b", "--variants", "fp32", "--limit", "2", "--min-iters", "10",
                      "--min-seconds", "0.1", "--bootstrap", "0", "--queue-timeout", "2", "--no-archive")
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _stop_group(holder, signal.SIGKILL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fleet: waiting for device b: busy with another benchmark" in proc.stderr
    row = next(r for r in proc.stdout[proc.stdout.index("== all devices =="):].splitlines() if r.startswith("b "))
    assert row.endswith("failed: device b stayed busy for 2 s (--queue-timeout): another benchmark holds it")
    assert "not archived: device b stayed busy" in proc.stdout


def test_a_row_in_flight_shows_the_stage_its_device_reported(head, devices):
    # --min-seconds 16: the row is still timing when the host's first 15 s note comes (harness.fleet_progress)
    proc = _bench("run", "--cluster", head, "--on", "a", "--variants", "fp32", "--limit", "2", "--min-iters", "10",
                  "--min-seconds", "16", "--bootstrap", "0", "--no-archive")
    assert proc.returncode == 0, proc.stderr[-3000:]
    notes = [ln for ln in proc.stderr.splitlines() if ln.startswith("fleet: a: fp32 ") and ln.endswith(" s)")]
    assert any(re.fullmatch(r"fleet: a: fp32 (warmup|timed|pipelined|score) [0-9/]+ \(\d+ s\)", ln) for ln in notes), \
        proc.stderr[-3000:]


def _agents() -> list:
    """Device workers (``python -m devices.agent run``) alive on this machine."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if "devices.agent" in cmd and "run" in cmd:
            found.append(p)
    return found


def test_ctrl_c_on_the_host_cancels_the_remote_work(head, devices):
    run = subprocess.Popen([sys.executable, "-m", "harness", "run", "--cluster", head, "--on", "a", "--variants", "fp32",
                            "--limit", "2", "--min-iters", "10", "--min-seconds", "60", "--bootstrap", "0",
                            "--no-archive"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=ENV)
    try:
        for line in run.stderr:
            if line.startswith("fleet: a: fp32 running"):
                break
        deadline = time.monotonic() + 120
        while not _agents():
            assert time.monotonic() < deadline, "the device worker never started"
            time.sleep(0.5)
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 130
        deadline = time.monotonic() + 30
        while _agents() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _agents() == [], "the device worker outlived the cancelled run"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def test_a_device_killed_mid_run_fails_its_rows_and_the_other_record_is_complete(head, devices, tmp_path):
    victim = _join(head, "c")
    try:
        run = subprocess.Popen([sys.executable, "-m", "harness", "run", "--cluster", head, "--on", "a,c", *RUN_ARGS,
                                "--min-seconds", "4", "--archive", str(tmp_path / "arch")], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        seen = []
        for line in run.stderr:
            seen.append(line)
            if line.startswith("fleet: c: fp32 running"):
                time.sleep(1.5)
                _kill_node(victim)
                break
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, "".join(seen) + err[-3000:]
    finally:
        _stop_group(victim, signal.SIGKILL)
    table = out[out.index("== all devices =="):].splitlines()[1:]
    rows = {(r.split()[0], r.split()[2]): r for r in table[1:]}
    assert rows[("a", "fp32")].endswith(" ok") and rows[("a", "int8")].endswith(" ok")
    for variant in ("fp32", "int8"):
        assert "failed: device c left the cluster" in rows[("c", variant)]
    assert "not archived: device c left the cluster" in out
    records = _records(tmp_path / "arch")
    assert [r["device"]["hardware"]["hardware"]["fleet"]["device"] for r in records] == ["a"]
    assert [v["status"] for v in records[0]["variants"]] == ["ok", "ok"]
