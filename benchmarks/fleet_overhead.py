"""Seconds the fleet path adds over a local run: ``bench run`` vs ``bench run --cluster ... --on a``.

It starts a Ray head on this machine (``ray start --head``) and joins it with ``bench fleet join``
(one device, or ``--devices 2``: two raylets on this machine, named ``a`` and ``b``), then runs, with
the same options: a local ``bench run`` as warm-up (it builds what is missing; not counted), then a
local run, the fleet run and the local run again, artifacts cached. The overhead is the fleet run's
wall time minus the mean of the two counted local runs; on a busy machine their spread is printed too,
and an overhead inside it is noise. The fleet run's output (each device's table and the cross-device table)
is printed at the end. Everything it started is stopped (process groups it created, nothing else).

Usage::

    python benchmarks/fleet_overhead.py                     # default variants, 1 device
    python benchmarks/fleet_overhead.py --devices 2 --limit 50
    python benchmarks/fleet_overhead.py --variants fp32,int8 --limit 20

Not part of the test suite: tests never assert on wall-clock time. Needs the ``fleet`` extra (ray).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# its own token for its cluster, as tests/fleet/test_cluster.py: independent of ~/.ray/auth_token here
ENV = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", YOLO_OFFLINE="true", YOLO_AUTOINSTALL="false",
           RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def start_head() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    ray_bin = Path(sys.executable).with_name("ray")
    proc = subprocess.Popen([str(ray_bin), "start", "--head", "--port", str(port), "--num-cpus", "1",
                             "--include-dashboard", "false", "--ray-client-server-port", str(_free_port()),
                             "--disable-usage-stats", "--block"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=ENV)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the Ray head did not start")
            time.sleep(0.5)
    time.sleep(3)
    return proc, f"127.0.0.1:{port}"


def join(address: str, name: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "harness", "fleet", "join", address, "--name", name, "--device", "cpu"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True, env=ENV)
    first: list[str] = []
    t = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout=180)
    if not first or not first[0].startswith("joined"):
        _stop(proc)
        raise SystemExit(f"bench fleet join {name} failed: {first}")
    print(first[0].strip(), flush=True)
    return proc


def timed_run(args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness", "run", *args], cwd=ROOT, capture_output=True, text=True,
                          env=ENV)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench run {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, choices=(1, 2), default=1)
    parser.add_argument("--variants", help="as bench run --variants (default: bench run's default list)")
    parser.add_argument("--limit", type=int, help="as bench run --limit")
    args = parser.parse_args(argv)
    common = ["--no-archive"] + (["--variants", args.variants] if args.variants else []) + \
        (["--limit", str(args.limit)] if args.limit else [])
    names = ["a", "b"][: args.devices]
    head, address = start_head()
    joined = []
    try:
        for name in names:  # one after the other: two raylets starting at once race
            joined.append(join(address, name))
        warm, _ = timed_run(common)
        local1, _ = timed_run(common)
        fleet, out = timed_run(["--cluster", address, "--on", ",".join(names), *common])
        local2, _ = timed_run(common)
    finally:
        for proc in joined:
            _stop(proc)
        _stop(head)
    local = (local1 + local2) / 2
    print(out)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; options: {' '.join(common)}")
    print(f"local bench run: warm-up {warm:.1f} s (not counted), then {local1:.1f} s and {local2:.1f} s "
          f"(mean {local:.1f} s, spread {abs(local1 - local2):.1f} s)")
    print(f"fleet bench run on {len(names)} device(s) of this machine: {fleet:.1f} s")
    print(f"added by the fleet path: {fleet - local:+.1f} s ({fleet / local:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
