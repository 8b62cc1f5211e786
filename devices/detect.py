"""Hardware detection: what this machine is, read from /proc, /sys, /etc and NVML.

Every file is read under an injectable ``root`` so tests build fake trees in a temp dir;
nothing here needs root privileges, and nothing guesses: a value that could not be read is
None, with the reason where it matters (``not_jetson_reason``, ``gpu_reason``).

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

__all__ = [
    "GpuInfo",
    "Hardware",
    "JetsonInfo",
    "detect_hardware",
    "jetpack_for_l4t",
    "match_jetson_profile",
    "parse_compatible",
    "parse_nv_tegra_release",
    "parse_nvpmodel_conf",
    "parse_nvpmodel_query",
]

# L4T release -> JetPack, exact releases only (NVIDIA's JetPack archive); an L4T not listed
# maps to None rather than to a guess (L4T 35.1 was JetPack 5.0.2 but 35.2.1 was 5.1).
_JETPACK = {
    "32.4.3": "4.4", "32.4.4": "4.4.1", "32.5.0": "4.5", "32.5.1": "4.5.1", "32.5.2": "4.5.1",
    "32.6.1": "4.6", "32.7.1": "4.6.1", "32.7.2": "4.6.2", "32.7.3": "4.6.3", "32.7.4": "4.6.4",
    "32.7.5": "4.6.5", "32.7.6": "4.6.6",
    "35.1.0": "5.0.2", "35.2.1": "5.1", "35.3.1": "5.1.1", "35.4.1": "5.1.2", "35.5.0": "5.1.3",
    "35.6.0": "5.1.4", "35.6.1": "5.1.5",
    "36.2.0": "6.0 DP", "36.3.0": "6.0", "36.4.0": "6.1", "36.4.3": "6.2", "36.4.4": "6.2.1",
    "38.2.0": "7.0", "38.4.0": "7.1", "39.2.0": "7.2",
}

# Module part numbers (board id + SKU) -> module name. Family prefixes first, SKUs refine.
_MODULE_FAMILIES = {
    "p2180": "Jetson TX1", "p3310": "Jetson TX2", "p3489": "Jetson TX2i / TX2 4GB",
    "p3636": "Jetson TX2 NX", "p3448": "Jetson Nano", "p3668": "Jetson Xavier NX",
    "p2888": "Jetson AGX Xavier", "p3701": "Jetson AGX Orin", "p3767": "Jetson Orin NX / Orin Nano",
    "p3834": "Jetson AGX Thor",
}
_MODULE_SKUS = {
    "p3448-0003": "Jetson Nano 2GB",
    "p3701-0004": "Jetson AGX Orin 32GB", "p3701-0005": "Jetson AGX Orin 64GB",
    "p3701-0008": "Jetson AGX Orin Industrial",
    "p3767-0000": "Jetson Orin NX 16GB", "p3767-0001": "Jetson Orin NX 8GB",
    "p3767-0003": "Jetson Orin Nano 8GB", "p3767-0004": "Jetson Orin Nano 4GB",
    "p3767-0005": "Jetson Orin Nano 8GB (developer kit)",
    "p2888-0008": "Jetson AGX Xavier Industrial",
}
_PART_RE = re.compile(r"p\d{4}-\d{4}")
_SOC_RE = re.compile(r"tegra\d{3}")
_L4T_RE = re.compile(r"R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)")
_GPU_NODES = ("dev/nvgpu/igpu0", "dev/nvhost-ctrl-gpu", "dev/nvhost-gpu")
_CPU_FLAGS_OF_NOTE = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "f16c",
                      "asimddp", "asimdhp", "fphp", "sve", "i8mm")


@dataclass(frozen=True)
class JetsonInfo:
    """What identifies a Jetson.

    Attributes:
        model: the device-tree model string, e.g. ``"NVIDIA Jetson AGX Orin Developer Kit"``.
        module: module name from the part number, e.g. ``"Jetson Orin Nano 8GB"``.
        part_numbers: part numbers found in the compatible string, e.g. ``("p3767-0005",)``.
        socs: SoCs from the compatible string, e.g. ``("tegra234",)``.
        l4t: L4T release, e.g. ``"36.4.4"``.
        jetpack: JetPack release for that L4T, None when not in the exact table.
        nvpmodel_mode: the active power mode name, where readable.
        nvpmodel_id: the active power mode id, where readable.
        profile: the matching profile name, or None when no profile covers this module.
        gpu_node: the GPU device node found, or None (e.g. a container without GPU access).
    """

    model: str | None
    module: str | None
    part_numbers: tuple[str, ...]
    socs: tuple[str, ...]
    l4t: str | None
    jetpack: str | None
    nvpmodel_mode: str | None
    nvpmodel_id: int | None
    profile: str | None
    gpu_node: str | None

    def describe(self) -> str:
        """One line for humans, e.g. ``"Jetson AGX Orin 64GB (L4T 36.4.4, JetPack 6.2.1)"``."""
        name = self.module or self.model or "Jetson (unknown model)"
        release = ", ".join(x for x in (f"L4T {self.l4t}" if self.l4t else "", f"JetPack {self.jetpack}" if self.jetpack else "") if x)
        return f"{name} ({release})" if release else name


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


# --------------------------------------------------------------------------- parsers


def parse_nv_tegra_release(text: str) -> str | None:
    """L4T release from ``/etc/nv_tegra_release`` (first line; later lines tolerated).

    Example:
        >>> parse_nv_tegra_release("# R36 (release), REVISION: 4.4, GCID: 41062509, BOARD: generic")
        '36.4.4'
    """
    m = _L4T_RE.search(text.splitlines()[0] if text.strip() else "")
    if not m:
        return None
    parts = m.group(2).split(".")
    parts += ["0"] * (2 - len(parts))
    return ".".join([m.group(1), *parts])


def jetpack_for_l4t(l4t: str | None) -> str | None:
    """JetPack release for an exact L4T release, or None when not known.

    Example:
        >>> jetpack_for_l4t("35.3.1"), jetpack_for_l4t("36.9.9")
        ('5.1.1', None)
    """
    return _JETPACK.get(l4t) if l4t else None


def parse_compatible(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Part numbers and SoCs from ``/proc/device-tree/compatible`` (NUL-separated or run together).

    Example:
        >>> parse_compatible("nvidia,p3768-0000+p3767-0005\\x00nvidia,p3767-0005\\x00nvidia,tegra234\\x00")
        (('p3768-0000', 'p3767-0005'), ('tegra234',))
    """
    parts = tuple(dict.fromkeys(_PART_RE.findall(text)))
    socs = tuple(dict.fromkeys(_SOC_RE.findall(text)))
    return parts, socs


def parse_nvpmodel_query(text: str) -> tuple[str | None, int | None]:
    """Mode name and id from ``nvpmodel -q`` output (NVPM ERROR lines of a non-root run tolerated).

    Example:
        >>> parse_nvpmodel_query("NV Power Mode: 5W\\n1\\n")
        ('5W', 1)
    """
    name = mode_id = None
    lines = [ln.strip() for ln in text.splitlines()]
    for i, line in enumerate(lines):
        m = re.match(r"NV Power Mode:\s*(\S.*)$", line)
        if m:
            name = m.group(1).strip()
            if i + 1 < len(lines) and lines[i + 1].isdigit():
                mode_id = int(lines[i + 1])
            break
    return name, mode_id


def parse_nvpmodel_conf(text: str) -> dict[int, str]:
    """Mode id -> name from ``/etc/nvpmodel.conf`` (``< POWER_MODEL ID=0 NAME=MAXN >`` lines).

    Example:
        >>> parse_nvpmodel_conf("< POWER_MODEL ID=0 NAME=MAXN >\\n< POWER_MODEL ID=1 NAME=MODE_15W >")
        {0: 'MAXN', 1: 'MODE_15W'}
    """
    return {int(i): n for i, n in re.findall(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+)\s*>", text)}


def match_jetson_profile(model: str | None, part_numbers: tuple[str, ...]) -> str | None:
    """The Jetson profile for a module: by part number first, then by the model string."""
    from devices.profiles import list_profiles, load_profile

    jetsons = [p for p in (load_profile(n) for n in list_profiles()) if p.match is not None]
    for p in jetsons:
        if p.match.matches_module(part_numbers):
            return p.name
    if model:
        for p in jetsons:
            if p.match.matches_model(model):
                return p.name
    return None


# --------------------------------------------------------------------------- readers


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _module_name(part_numbers: tuple[str, ...]) -> str | None:
    for pn in part_numbers:
        if pn in _MODULE_SKUS:
            return _MODULE_SKUS[pn]
    for pn in part_numbers:
        family = _MODULE_FAMILIES.get(pn.split("-")[0])
        if family:
            return family
    return None


def _dpkg_l4t(root: Path) -> str | None:
    status = _read(root, "var/lib/dpkg/status")
    if not status:
        return None
    m = re.search(r"^Package: nvidia-l4t-core\n(?:[^\n]+\n)*?Version: (\d+\.\d+(?:\.\d+)?)", status, flags=re.M)
    return m.group(1) if m else None


def _nvpmodel(root: Path, run_command: Callable[[list[str]], str | None] | None) -> tuple[str | None, int | None]:
    status = _read(root, "var/lib/nvpmodel/status")
    m = re.search(r"pmode:(\d+)", status or "")
    if m:
        mode_id = int(m.group(1))
        names = parse_nvpmodel_conf(_read(root, "etc/nvpmodel.conf") or "")
        return names.get(mode_id), mode_id
    if run_command is not None:
        out = run_command(["nvpmodel", "-q"])
        if out:
            return parse_nvpmodel_query(out)
    return None, None


def _run(cmd: list[str]) -> str | None:
    exe = shutil.which(cmd[0])
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def _detect_jetson(root: Path, run_command) -> tuple[JetsonInfo | None, str | None]:
    model_raw = _read(root, "proc/device-tree/model")
    if model_raw is None:
        model_raw = _read(root, "sys/firmware/devicetree/base/model")
    compatible = _read(root, "proc/device-tree/compatible") or ""
    release = _read(root, "etc/nv_tegra_release")
    model = model_raw.strip("\x00\n ") if model_raw is not None else None
    parts, socs = parse_compatible(compatible)
    nvidia_dt = "nvidia,tegra" in compatible or bool(model and re.search(r"nvidia|jetson", model, re.I))
    if not nvidia_dt and release is None:
        if model is None:
            return None, "not a Jetson: /proc/device-tree/model absent"
        return None, f"not a Jetson: /proc/device-tree/model is {model!r} and no /etc/nv_tegra_release"
    l4t = parse_nv_tegra_release(release) if release else None
    if l4t is None:
        l4t = _dpkg_l4t(root)
    mode, mode_id = _nvpmodel(root, run_command)
    gpu_node = next((n for n in _GPU_NODES if (root / n).exists()), None)
    info = JetsonInfo(
        model=model, module=_module_name(parts), part_numbers=parts, socs=socs, l4t=l4t,
        jetpack=jetpack_for_l4t(l4t), nvpmodel_mode=mode, nvpmodel_id=mode_id,
        profile=match_jetson_profile(model, parts), gpu_node=f"/{gpu_node}" if gpu_node else None,
    )
    return info, None


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
