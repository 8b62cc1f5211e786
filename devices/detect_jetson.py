"""Jetson detection: the device tree, /etc/nv_tegra_release, dpkg and nvpmodel, read under a ``root``.

The Jetson half of :mod:`devices.detect` (which re-exports the public names and puts the answer into
:class:`~devices.detect.Hardware`). A value that could not be read is None; nothing is guessed.

Example:
    >>> parse_nv_tegra_release("# R35 (release), REVISION: 3.1"), jetpack_for_l4t("35.3.1")
    ('35.3.1', '5.1.1')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["JetsonInfo", "jetpack_for_l4t", "match_jetson_profile", "parse_compatible", "parse_nv_tegra_release",
           "parse_nvpmodel_conf", "parse_nvpmodel_query"]

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
