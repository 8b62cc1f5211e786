"""Hardware detection: what this machine is, read from /proc, /sys, /etc and NVML.

Every file is read under an injectable ``root`` so tests build fake trees in a temp dir;
nothing here needs root privileges, and nothing guesses: a value that could not be read is
None, with the reason where it matters (``not_jetson_reason``, ``gpu_reason``). The Jetson part
(device tree, L4T, nvpmodel) is :mod:`devices.detect_jetson`, re-exported here; this module reads
the CPU, RAM and NVIDIA GPUs and assembles :class:`Hardware`.

Example:
    >>> hw = detect_hardware()
    >>> hw.cpu_cores >= 1
    True
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from devices.detect_jetson import (JetsonInfo, _detect_jetson, _read, jetpack_for_l4t, match_jetson_profile,
                                   parse_compatible, parse_nv_tegra_release, parse_nvpmodel_conf, parse_nvpmodel_query)

__all__ = ["GpuInfo", "Hardware", "JetsonInfo", "detect_hardware", "jetpack_for_l4t", "match_jetson_profile",
           "parse_compatible", "parse_nv_tegra_release", "parse_nvpmodel_conf", "parse_nvpmodel_query"]

_CPU_FLAGS_OF_NOTE = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "f16c",
                      "asimddp", "asimdhp", "fphp", "sve", "i8mm")


@dataclass(frozen=True)
class GpuInfo:
    """An NVIDIA GPU seen through NVML."""

    index: int
    name: str
    memory_mb: float | None
    compute_capability: str | None


@dataclass(frozen=True)
class Hardware:
    """What this machine is. Fields that could not be read are None.

    Attributes:
        arch: ``platform.machine()``, e.g. ``"x86_64"`` or ``"aarch64"``.
        cpu_model: CPU model name from /proc/cpuinfo.
        cpu_cores: logical CPUs.
        cpu_flags: CPU features that matter for INT8/FP16 speed (VNNI, dot-product, FP16 arithmetic).
        ram_mb: total RAM from /proc/meminfo.
        os: kernel / OS string.
        jetson: Jetson identification, or None.
        not_jetson_reason: why this is not a Jetson (None when it is).
        gpus: NVIDIA GPUs seen through NVML.
        gpu_reason: why no GPU is listed (None when some are).
        driver_version: NVIDIA driver version (NVML or /proc/driver/nvidia/version).
        runtimes: runtime name -> :class:`devices.runtimes.RuntimeStatus`.
    """

    arch: str
    cpu_model: str | None
    cpu_cores: int
    cpu_flags: tuple[str, ...]
    ram_mb: float | None
    os: str
    jetson: JetsonInfo | None
    not_jetson_reason: str | None
    gpus: tuple[GpuInfo, ...]
    gpu_reason: str | None
    driver_version: str | None
    runtimes: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the run record (absent values are left out)."""
        out: dict[str, Any] = {
            "arch": self.arch,
            "cpu_model": self.cpu_model,
            "cpu_cores": self.cpu_cores,
            "cpu_flags": list(self.cpu_flags),
            "ram_mb": self.ram_mb,
            "os": self.os,
        }
        if self.jetson is not None:
            j = self.jetson
            out["jetson"] = {k: v for k, v in {
                "model": j.model, "module": j.module, "part_numbers": list(j.part_numbers),
                "socs": list(j.socs), "l4t": j.l4t, "jetpack": j.jetpack,
                "nvpmodel_mode": j.nvpmodel_mode, "nvpmodel_id": j.nvpmodel_id,
                "profile": j.profile, "gpu_node": j.gpu_node,
            }.items() if v not in (None, [])}
        if self.gpus:
            out["gpus"] = [{k: v for k, v in vars(g).items() if v is not None} for g in self.gpus]
        if self.driver_version:
            out["driver_version"] = self.driver_version
        out["runtimes"] = {name: status.to_dict() for name, status in self.runtimes.items()}
        return {k: v for k, v in out.items() if v is not None}



# --------------------------------------------------------------------------- readers


def _run(cmd: list[str]) -> str | None:
    exe = shutil.which(cmd[0])
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def _cpu(root: Path) -> tuple[str | None, int, tuple[str, ...]]:
    text = _read(root, "proc/cpuinfo") or ""
    model = None
    for key in ("model name", "Model", "Hardware"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", text, flags=re.M)
        if m:
            model = m.group(1).strip()
            break
    if model is None:
        parts = sorted(set(re.findall(r"^CPU part\s*:\s*(0x[0-9a-fA-F]+)", text, flags=re.M)))
        impl = sorted(set(re.findall(r"^CPU implementer\s*:\s*(0x[0-9a-fA-F]+)", text, flags=re.M)))
        if parts:
            model = f"Arm CPU (implementer {','.join(impl)}, part {','.join(parts)})"
    cores = len(re.findall(r"^processor\s*:", text, flags=re.M))
    if str(root) == "/" or cores == 0:
        cores = os.cpu_count() or cores or 1
    flags_line = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, flags=re.M)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    return model, cores, tuple(f for f in _CPU_FLAGS_OF_NOTE if f in flags)


def _ram_mb(root: Path) -> float | None:
    m = re.search(r"^MemTotal:\s*(\d+)\s*kB", _read(root, "proc/meminfo") or "", flags=re.M)
    return round(int(m.group(1)) / 1024, 1) if m else None


def _nvml_gpus(nvml: Any, root: Path) -> tuple[tuple[GpuInfo, ...], str | None, str | None]:
    """GPUs via NVML. ``nvml`` is the pynvml module (injected in tests) or None to import it."""
    proc_driver = _read(root, "proc/driver/nvidia/version")
    proc_version = None
    if proc_driver:
        m = re.search(r"Kernel Module\s+(?:for\s+\S+\s+)?(\d+\.\d+(?:\.\d+)?)", proc_driver)
        proc_version = m.group(1) if m else None
    if nvml is None:
        try:
            import pynvml as nvml  # nvidia-ml-py
        except ImportError:
            return (), "NVML not importable (pip install nvidia-ml-py)", proc_version
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return (), f"NVML: {exc}", proc_version
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        gpus = []
        for i in range(nvml.nvmlDeviceGetCount()):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            mem = cc = None
            try:
                mem = round(nvml.nvmlDeviceGetMemoryInfo(h).total / 2**20, 1)
            except nvml.NVMLError:
                pass
            try:
                major, minor = nvml.nvmlDeviceGetCudaComputeCapability(h)
                cc = f"{major}.{minor}"
            except nvml.NVMLError:
                pass
            gpus.append(GpuInfo(index=i, name=_text(nvml.nvmlDeviceGetName(h)), memory_mb=mem, compute_capability=cc))
        reason = None if gpus else "NVML reports 0 GPUs"
        return tuple(gpus), reason, driver or proc_version
    except nvml.NVMLError as exc:
        return (), f"NVML: {exc}", proc_version
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def detect_hardware(
    *,
    root: str | os.PathLike = "/",
    machine: str | None = None,
    nvml: Any = None,
    runtimes: Mapping[str, Any] | None = None,
    run_command: Callable[[list[str]], str | None] | None = None,
) -> Hardware:
    """Detect this machine (or the fake tree at ``root``).

    Args:
        root: filesystem root to read ``proc/``, ``sys/``, ``etc/``, ``dev/``, ``var/`` under.
        machine: architecture override (default ``platform.machine()``); tests set it.
        nvml: a pynvml-compatible module (tests pass a fake); None imports ``pynvml``.
        runtimes: runtime statuses (tests pass them); None probes the installed runtimes.
        run_command: runs a command and returns its stdout (``nvpmodel -q``); by default used
            only when ``root`` is ``/``.

    Returns:
        The detected :class:`Hardware`.

    Example:
        >>> detect_hardware(root="/nonexistent", runtimes={}).not_jetson_reason
        'not a Jetson: /proc/device-tree/model absent'
    """
    from devices.runtimes import probe_runtimes

    root = Path(root)
    is_live = str(root) == "/"
    if run_command is None and is_live:
        run_command = _run
    jetson, not_jetson = _detect_jetson(root, run_command)
    if jetson is not None and nvml is None:
        # Jetson (before Thor) has no NVML; do not report a misleading "library not found".
        gpus, gpu_reason, driver = (), "integrated Jetson GPU (NVML does not cover it)", None
    elif nvml is None and not is_live:
        gpus, gpu_reason, driver = (), f"NVML not queried for a fake root ({root})", None
    else:
        gpus, gpu_reason, driver = _nvml_gpus(nvml, root)
    model, cores, flags = _cpu(root)
    return Hardware(
        arch=machine or platform.machine(),
        cpu_model=model,
        cpu_cores=cores,
        cpu_flags=flags,
        ram_mb=_ram_mb(root),
        os=f"{platform.system()} {platform.release()}" if is_live else "fake root",
        jetson=jetson,
        not_jetson_reason=not_jetson,
        gpus=gpus,
        gpu_reason=gpu_reason,
        driver_version=driver,
        runtimes=MappingProxyType(dict(probe_runtimes() if runtimes is None else runtimes)),
    )
