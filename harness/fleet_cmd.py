"""``bench fleet``: join this machine to a Ray cluster as a bench device, or list the devices of a cluster.

The three commands a team runs (the head with Ray's own CLI; bench does not wrap it)::

    ray start --head --port 6379                                  # on the host (any machine of the cluster)
    bench fleet join HEAD:6379 --name orin1 [--device auto|PROFILE] [--python /usr/bin/python3.8]   # each device
    bench run --cluster HEAD:6379 --on orin1,desk                 # on the host: one record per device + a table

``join`` checks the worker interpreter first (``PYTHON -m devices.agent --describe``: it must import
numpy, psutil and the profile's runtime), resolves the device profile here, then starts a Ray node
(``ray start --address ... --block``) with the resource ``bench-device:NAME`` = 1 and the label
``bench-device=NAME``, and stores the description (:mod:`harness.fleet`). It stays in the foreground:
Ctrl-C (or SIGTERM) stops the node, and the device leaves the cluster. Two joins on one machine
under different names are two devices (that is how to try the fleet before touching a device).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from common.errors import InputError, expected

NODE_UP_TIMEOUT_S = 90.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="fleet_action", metavar="ACTION")
    join = sub.add_parser("join", help="join this machine to a Ray cluster as a bench device (stays in the foreground)")
    join.add_argument("address", help="the Ray head's address, HOST:PORT")
    join.add_argument("--name", required=True, help="the device's name in the fleet (bench run --on NAME)")
    join.add_argument("--device", default="auto", help="device profile, 'jetson' or 'auto' (default: detected here)")
    join.add_argument("--python", type=Path, help="the interpreter that runs the device worker (default: this one), "
                                                  "e.g. JetPack 5's /usr/bin/python3.8 with its TensorRT bindings")
    join.add_argument("--runtime", help="the profile's runtime to use (default: its first one the worker "
                                        "interpreter can import)")
    join.add_argument("--num-cpus", type=int, default=0,
                      help="CPUs this node offers to other Ray work (default 0: nothing else is scheduled here)")
    join.add_argument("--object-store-mb", type=int, default=None, help="Ray object store size of the node in MB")
    nodes = sub.add_parser("nodes", help="list the bench devices of a Ray cluster")
    nodes.add_argument("address", help="the Ray head's address, HOST:PORT")
    nodes.add_argument("--json", action="store_true", help="print the devices as JSON")


def run(args: argparse.Namespace) -> int:
    if args.fleet_action == "join":
        return join(args)
    if args.fleet_action == "nodes":
        return nodes(args)
    raise InputError(expected("an action: join or nodes", "none", "bench fleet"))


# ------------------------------------------------------------------------------------------- nodes

def nodes(args: argparse.Namespace) -> int:
    from harness import fleet

    fleet.connect(args.address)
    devices = fleet.list_devices()
    if args.json:
        print(json.dumps([d.to_dict() for d in devices], indent=1))
        return 0
    if not devices:
        print(f"no bench device in the Ray cluster at {args.address} (join one: bench fleet join {args.address} "
              "--name NAME)")
        return 0
    rows = [("device", "profile", "python", "runtimes", "status", "node")]
    rows += [(d.name, d.profile, str(d.agent.get("python") or "?"), d.runtimes_text(), "busy" if d.busy else "free",
              d.node_ip or "?") for d in devices]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


# -------------------------------------------------------------------------------------------- join

def describe_interpreter(python: str, name: str) -> dict:
    """``PYTHON -m devices.agent --describe`` with this checkout on PYTHONPATH.

    Raises:
        InputError: the interpreter is missing or cannot import the device side (one line: what to install).
    """
    checkout = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (checkout, os.environ.get("PYTHONPATH")) if p))
    hint = "a Python >= 3.8 with numpy, psutil and onnxruntime (or tensorrt with cuda-python)"
    try:
        proc = subprocess.run([python, "-m", "devices.agent", "--describe"], capture_output=True, text=True,
                              timeout=120, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(expected(hint, f"{python} cannot be run ({exc.__class__.__name__}: {exc})",
                                  f"device {name}")) from None
    lines = proc.stdout.strip().splitlines()
    try:
        info = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    except ValueError:
        info = None
    if not isinstance(info, dict):
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise InputError(expected(hint, f"{python}: {(err[-1] if err else 'no output')[:160]}", f"device {name}"))
    return info


def worker_runtime(profile, agent: dict, wanted: str | None, *, where: str):
    """The profile's first runtime entry the worker interpreter can run (its accelerator provider included),
    or ``wanted``'s.

    Raises:
        InputError: none can run there; the line names what to install for that interpreter.
    """
    runtimes = agent.get("runtimes") or {}
    entries = [e for e in profile.runtimes if wanted is None or e.runtime == wanted]
    if not entries:
        raise InputError(expected(f"a runtime of profile {profile.name} "
                                  f"({', '.join(dict.fromkeys(e.runtime for e in profile.runtimes))})", wanted, "--runtime"))
    for e in entries:
        status = runtimes.get(e.runtime) or {}
        if status.get("available") and (e.accelerator is None or e.accelerator in (status.get("providers") or ())):
            return e
    need = " or ".join(dict.fromkeys("tensorrt and cuda-python (JetPack: the system packages)" if e.runtime == "tensorrt"
                                     else e.label() for e in entries))
    why = "; ".join(f"{e.runtime}: {(runtimes.get(e.runtime) or {}).get('reason') or 'provider missing'}" for e in entries)
    raise InputError(expected(f"{need} importable by the worker interpreter (install it there)", why[:160], where))


def join(args: argparse.Namespace) -> int:
    from devices.resolve import resolve_device
    from harness import fleet

    name = fleet.check_name(args.name)
    if args.num_cpus < 0:
        raise InputError(expected("0 or more CPUs", args.num_cpus, "--num-cpus"))
    python = str(args.python) if args.python is not None else sys.executable
    agent = describe_interpreter(python, name)
    resolved = resolve_device(args.device)
    entry = worker_runtime(resolved.profile, agent, args.runtime, where=f"device {name} ({python})")
    resolved = replace(resolved, runtime=entry)
    runtime = entry.runtime
    status = agent["runtimes"][runtime]
    fleet.connect(args.address)
    if any(d.name == name for d in fleet.list_devices()):
        raise InputError(expected("a device name not yet in the cluster", repr(name), "--name"))
    ray = fleet.ray_module()
    ray.shutdown()

    cmd = ["ray", "start", "--address", args.address, "--block", "--disable-usage-stats",
           "--num-cpus", str(args.num_cpus), "--resources", json.dumps({fleet.device_resource(name): 1}),
           "--labels", f"{fleet.LABEL}={name}"]
    if args.object_store_mb:
        cmd += ["--object-store-memory", str(args.object_store_mb * 1024 * 1024)]
    ray_bin = Path(sys.executable).with_name("ray")
    cmd[0] = str(ray_bin) if ray_bin.is_file() else "ray"
    log = Path(tempfile.gettempdir()) / f"bench-fleet-{name}-{os.getpid()}.log"  # a file: a full pipe would stall Ray
    with open(log, "wb") as fh:
        node = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        fleet.connect(args.address)
        deadline = time.monotonic() + NODE_UP_TIMEOUT_S
        while not fleet.is_alive(name):
            if node.poll() is not None or time.monotonic() > deadline:
                err = _last_lines(log) if node.poll() is not None else []
                raise InputError(expected("a Ray node that starts", (err[-1] if err else "no node after "
                                                                      f"{NODE_UP_TIMEOUT_S:g} s")[:160], args.address))
            time.sleep(0.5)
        info = {"name": name, "profile": resolved.profile.name, "runtime": resolved.runtime.to_dict(),
                "python": python, "agent": agent, "hardware": resolved.to_dict()}
        fleet.register(info)
        ray.shutdown()
        signal.signal(signal.SIGTERM, _raise_interrupt)  # again: ray.init/shutdown replaced it
        print(f"joined {args.address} as device {name}: profile {resolved.profile.name}, {runtime} "
              f"{status.get('version') or ''}".rstrip() + f", worker Python {agent.get('python')} ({python}); "
              "Ctrl-C leaves", flush=True)
        node.wait()
        err = _last_lines(log)
        raise InputError(expected("the device's Ray node to keep running", (err[-1] if err else "it exited")[:160],
                                  f"device {name}"))
    except KeyboardInterrupt:
        print(f"device {name} leaves {args.address}", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(node)


def _last_lines(path: Path) -> list[str]:
    try:
        return [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()][-5:]
    except OSError:
        return []


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop(node: subprocess.Popen) -> None:
    """Stop ``ray start --block`` and the node processes it started (its own process group)."""
    if node.poll() is None:
        try:
            os.killpg(node.pid, signal.SIGTERM)
            node.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(node.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            node.wait()
