"""The fleet's view of a Ray cluster: which bench devices joined, what they run, whether they are free.

A bench device is a Ray node started by ``bench fleet join`` (:mod:`harness.fleet_cmd`) with

* the custom resource ``bench-device:NAME`` = 1, which every fleet task asks for, so Ray runs one
  benchmark at a time there (and only there);
* the node label ``bench-device=NAME``;
* a JSON description in the cluster's key-value store (namespace ``bench-fleet``, key ``device/NAME``):
  profile, runtime entry, the worker interpreter and what it runs (``python -m devices.agent --describe``).

Ray does not detect a Jetson's GPU (ray issue 46263) and every node of a cluster runs one Ray and Python
version, so nothing is left to Ray's detection: the resource and the description are declared, and the
worker runs under the interpreter the device joined with. Ray is imported lazily (extra ``fleet``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from common.errors import InputError, expected, require

__all__ = ["FleetDevice", "NAMESPACE", "connect", "device_resource", "list_devices", "register", "ray_module",
           "check_name", "unregister"]

NAMESPACE = "bench-fleet"
RESOURCE_PREFIX = "bench-device:"
LABEL = "bench-device"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,38}[a-z0-9])?$")


def ray_module():
    """``ray``, or :class:`common.errors.MissingDependency` naming the extra."""
    return require("ray", extra="fleet")


def check_name(name: str, where: str = "--name") -> str:
    """A device name: lower-case letters, digits, ``.``, ``_``, ``-`` (a Ray resource and label value)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(expected("a device name of 1-40 lower-case letters, digits, '.', '_' or '-' (starting and "
                                  "ending with a letter or digit)", repr(name), where))
    return name


def device_resource(name: str) -> str:
    """The custom resource that pins work to device ``name``."""
    return RESOURCE_PREFIX + name


@dataclass(frozen=True)
class FleetDevice:
    """One bench device of the cluster, as joined and as it is now.

    Attributes:
        name: the device's name (``--name`` of ``bench fleet join``).
        profile: the device profile it joined with (e.g. ``"cpu"``, ``"jetson-orin-nano"``).
        runtime: the profile's runtime entry it resolved: ``{"runtime": ..., "providers": [...]}``.
        python: the worker interpreter's path on the device.
        agent: what that interpreter reported (``devices.agent.describe()``: Python version, runtimes).
        node_id: the Ray node id, None when the device's node is not alive.
        node_ip: the node's address.
        busy: a benchmark holds the device now.
        hardware: the hardware ``bench fleet join`` detected there.
    """

    name: str
    profile: str
    runtime: Mapping[str, Any]
    python: str
    agent: Mapping[str, Any] = field(default_factory=dict)
    node_id: str | None = None
    node_ip: str | None = None
    busy: bool = False
    hardware: Mapping[str, Any] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return self.node_id is not None

    def runtimes_text(self) -> str:
        """``"onnxruntime 1.19.2"``-style list of the runtimes the worker interpreter can import."""
        rts = (self.agent.get("runtimes") or {})
        return ", ".join(f"{n} {r.get('version') or '?'}" for n, r in rts.items() if r.get("available")) or "none"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "profile": self.profile, "runtime": dict(self.runtime), "python": self.python,
                "python_version": self.agent.get("python"), "runtimes": dict(self.agent.get("runtimes") or {}),
                "preprocess": self.agent.get("preprocess"), "node_id": self.node_id, "node_ip": self.node_ip,
                "status": "busy" if self.busy else "free" if self.alive else "gone"}


def connect(address: str) -> None:
    """Connect this process to the Ray cluster at ``address`` as a driver (once).

    Raises:
        InputError: no cluster answers there (one line naming the address and how to start a head).
        MissingDependency: ray is not installed.
    """
    ray = ray_module()
    if ray.is_initialized():
        return
    _reachable(address)
    try:
        ray.init(address=address, namespace=NAMESPACE, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if _token_refused(exc):
            raise InputError(expected(
                "this process to hold the cluster's Ray token (its head uses token authentication): set "
                "RAY_AUTH_MODE=token and the head's token (RAY_AUTH_TOKEN, or ~/.ray/auth_token) here as on the head",
                "the head refused this process's token (missing or different)", address)) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(expected("a running Ray cluster (start its head with: ray start --head)",
                                  first[:160], address)) from None


def _token_refused(exc: BaseException) -> bool:
    """Whether Ray failed to connect because the head refused this process's auth token (Ray >= 2.52's token
    authentication): Ray says so only in an error chained under its ConnectionError."""
    seen = 0
    while exc is not None and seen < 10:
        if type(exc).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _reachable(address: str, timeout: float = 5.0) -> None:
    """A TCP connection to the head's port, first: Ray itself retries an unreachable address for minutes."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(expected("a Ray head address HOST:PORT", repr(address), "address"))
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise InputError(expected("a running Ray cluster (start its head with: ray start --head)",
                                  f"nothing answers ({exc.strerror or exc})", address)) from None


def _kv():
    from ray.experimental import internal_kv

    return internal_kv


def register(info: Mapping[str, Any]) -> None:
    """Store a device's description (called by ``bench fleet join`` once its node is up)."""
    _kv()._internal_kv_put(f"device/{info['name']}".encode(), json.dumps(dict(info)).encode(), overwrite=True,
                           namespace=NAMESPACE)


def unregister(name: str) -> None:
    """Forget a device's description (``bench fleet join`` leaving)."""
    _kv()._internal_kv_del(f"device/{name}".encode(), namespace=NAMESPACE)


def _described() -> dict[str, dict]:
    kv = _kv()
    out = {}
    for key in kv._internal_kv_list(b"device/", namespace=NAMESPACE):
        raw = kv._internal_kv_get(key, namespace=NAMESPACE)
        try:
            info = json.loads(raw) if raw else None
        except ValueError:
            continue
        if isinstance(info, dict) and isinstance(info.get("name"), str):
            out[info["name"]] = info
    return out


def list_devices() -> list[FleetDevice]:
    """The bench devices whose node is alive, by name (call :func:`connect` first)."""
    ray = ray_module()
    alive: dict[str, dict] = {}
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        for res in node.get("Resources") or {}:
            if res.startswith(RESOURCE_PREFIX):
                alive[res[len(RESOURCE_PREFIX):]] = node
    available = ray.available_resources()
    described = _described()
    out = []
    for name in sorted(alive):
        info, node = described.get(name, {}), alive[name]
        out.append(FleetDevice(name=name, profile=info.get("profile") or "unknown", runtime=info.get("runtime") or {},
                               python=info.get("python") or "?", agent=info.get("agent") or {},
                               node_id=node.get("NodeID"), node_ip=node.get("NodeManagerAddress"),
                               busy=available.get(device_resource(name), 0.0) < 1.0,
                               hardware=(info.get("hardware") or {}).get("hardware") or {}))
    return out


def is_alive(name: str) -> bool:
    """Whether device ``name``'s node is alive now."""
    res = device_resource(name)
    return any(n.get("Alive") and res in (n.get("Resources") or {}) for n in ray_module().nodes())
