"""Resolve ``--device NAME`` to a usable profile on this machine, or say precisely why not.

``NAME`` is a profile name, ``"jetson"`` (the detected Jetson module's profile) or ``"auto"``
(the detected Jetson, else a desktop GPU, else the CPU).

The runtime of a resolved device is the first entry of its profile whose runtime is available
here (probed through :mod:`devices.runtimes`' registry); runtime names are data of the profile.

Example:
    >>> d = resolve_device("cpu")
    >>> d.profile.name, d.cpu_only
    ('cpu', True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from common.errors import InputError, expected
from devices.detect import Hardware, detect_hardware
from devices.profiles import DeviceProfile, RuntimeChoice, list_profiles, load_profile
from devices.runtimes import runtime_info

__all__ = ["ResolvedDevice", "choose_runtime", "resolve_device", "runtime_for", "usability"]


@dataclass(frozen=True)
class ResolvedDevice:
    """A profile that can run here, with the runtime entry that will be used.

    Attributes:
        requested: what the user asked for (``"auto"``, ``"jetson"`` or a profile name).
        profile: the profile.
        hardware: what was detected.
        runtime: the first runtime entry of the profile that is available here.
        notes: why other candidates were passed over (``auto``) or fallbacks taken.
    """

    requested: str
    profile: DeviceProfile
    hardware: Hardware
    runtime: RuntimeChoice
    notes: tuple[str, ...] = ()

    @property
    def cpu_only(self) -> bool:
        """True when the chosen runtime entry runs on the CPU only (e.g. ONNX Runtime's CPU provider)."""
        return _is_cpu(self.runtime)

    def runs_fast(self, precision: str) -> bool:
        """Whether the device runs ``precision`` fast with the chosen runtime.

        A Jetson or GPU profile that fell back to a CPU runtime entry follows the
        ``cpu`` profile's rules: the GPU's FP16 does not help a CPU kernel.
        """
        return self._rules().runs_fast(precision)

    def skip_reason(self, precision: str, *, fmt: str | None = None) -> str | None:
        """The run table's reason text for skipping a variant of this precision, or None.

        The profile's rule first (``fp16`` is not fast on a CPU), then the runtime's: the one that
        loads the row's format ``fmt`` (default: the chosen one) must run the precision, natively
        (``bf16``: OpenVINO on a CPU with BF16; :meth:`devices.runtimes.RuntimeInfo.precision_reason`).
        """
        rules = self._rules()
        reason = rules.slow_reason(precision)
        if reason is None:
            entry = self.runtime if fmt is None else runtime_for(self, fmt)
            return runtime_info(entry.runtime).precision_reason(precision, self.hardware.runtimes.get(entry.runtime))
        via = f" (runtime {self.runtime.label()})" if rules is not self.profile else ""
        return f"{precision} is not fast on {self.profile.name}{via}: {reason}"

    def force_runs(self, precision: str, *, fmt: str | None = None) -> bool:
        """Whether ``bench run --force`` really runs a skipped variant of this precision here.

        True only where the runtime that loads the row's format ``fmt`` (default: the chosen one)
        runs the precision natively, so forcing gives a measured (slow) row: ``fp16`` on ONNX
        Runtime's CPU provider. False where forcing would only give a failed row: ``bf16`` outside
        OpenVINO, or a precision the CPU lacks natively (OpenVINO refuses to emulate it).
        """
        try:
            entry = self.runtime if fmt is None else runtime_for(self, fmt)
        except InputError:
            return False
        return runtime_info(entry.runtime).precision_reason(precision, self.hardware.runtimes.get(entry.runtime)) is None

    def runtime_for(self, fmt: str) -> RuntimeChoice:
        """The runtime entry that runs artifacts of the exporters' format ``fmt`` here (see :func:`runtime_for`)."""
        return runtime_for(self, fmt)

    def _rules(self) -> DeviceProfile:
        if self.cpu_only and self.profile.kind != "cpu":
            return load_profile("cpu")
        return self.profile

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the run record: profile, runtime, detected hardware, notes."""
        out = {
            "requested": self.requested,
            "profile": self.profile.name,
            "profile_version": self.profile.profile_version,
            "runtime": self.runtime.to_dict(),
            "hardware": self.hardware.to_dict(),
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def runtime_for(device: ResolvedDevice, fmt: str) -> RuntimeChoice:
    """The runtime entry that runs artifacts of the exporters' format ``fmt`` (``--format``) on ``device``.

    The chosen runtime when it loads that format, else the profile's first entry available here
    whose runtime does (``--format onnx`` on a TensorRT device runs in ONNX Runtime).

    Raises:
        InputError: no runtime of the profile that is available here loads ``fmt``.
    """
    if runtime_info(device.runtime.runtime).build_format == fmt:
        return device.runtime
    profile, hardware = device.profile, device.hardware
    for name in dict.fromkeys(e.runtime for e in profile.runtimes):
        if runtime_info(name).build_format == fmt:
            entry, _ = choose_runtime(profile, hardware, runtime=name)
            if entry is not None:
                return entry
    loads = sorted({runtime_info(e.runtime).build_format for e in profile.runtimes
                    if choose_runtime(profile, hardware, runtime=e.runtime)[0] is not None})
    raise InputError(expected(f"a format the runtimes of {profile.name} available here load ({', '.join(loads)})",
                              repr(fmt), "--format"))


def _is_cpu(entry: RuntimeChoice) -> bool:
    return runtime_info(entry.runtime).is_cpu(entry)


def choose_runtime(profile: DeviceProfile, hardware: Hardware, *, runtime: str | None = None) -> tuple[RuntimeChoice | None, str]:
    """The first runtime entry of ``profile`` available on ``hardware``, or None and why none is.

    Args:
        profile: the device profile (its entries in order of preference).
        hardware: what was detected (its probed runtimes).
        runtime: consider only the entries of this runtime (``--runtime``); None: all of them.

    Raises:
        InputError: ``runtime`` is not registered, or the profile lists no entry of it.
    """
    entries = profile.runtimes
    if runtime is not None:
        runtime_info(runtime, where="--runtime")
        entries = tuple(e for e in entries if e.runtime == runtime)
        if not entries:
            listed = ", ".join(dict.fromkeys(e.runtime for e in profile.runtimes))
            raise InputError(expected(f"a runtime profile {profile.name} lists ({listed})", repr(runtime), "--runtime"))
    why: list[str] = []
    for entry in entries:
        status = hardware.runtimes.get(entry.runtime)
        if status is None or not status.available:
            text = status.reason if status is not None else f"{entry.runtime} not probed"
            if text not in why:
                why.append(text)
            continue
        if entry.accelerator is not None and entry.accelerator not in status.providers:
            why.append(f"{entry.runtime} {status.version} has no {entry.accelerator}")
            continue
        return entry, "; ".join(why)
    return None, "; ".join(why)


def usability(profile: DeviceProfile, hardware: Hardware, *, runtime: str | None = None) -> tuple[bool, str]:
    """Whether ``profile`` can run on ``hardware`` and why (or with which runtime).

    Args:
        profile: the device profile.
        hardware: what was detected.
        runtime: only with this runtime (``--runtime``; the profile must list it); None: any.

    Returns:
        ``(True, "runtime ...")`` or ``(False, precise reason)``.

    Example:
        >>> from devices.profiles import load_profile
        >>> hw = detect_hardware(root="/nonexistent", machine="x86_64", runtimes={})
        >>> usability(load_profile("jetson-nano"), hw)
        (False, 'not a Jetson: /proc/device-tree/model absent')
    """
    if profile.kind == "jetson":
        j = hardware.jetson
        if j is None:
            return False, hardware.not_jetson_reason or "not a Jetson"
        if j.profile != profile.name:
            this = j.module or j.model or "an unknown Jetson module"
            parts = f" ({', '.join(j.part_numbers)})" if j.part_numbers else ""
            target = f"profile {j.profile}" if j.profile else "no profile (none matches this module)"
            return False, f"this Jetson is {this}{parts}: it maps to {target}, not {profile.name}"
        if j.gpu_node is None:
            gpu_missing = "no Jetson GPU device node (/dev/nvgpu/igpu0, /dev/nvhost-ctrl-gpu): in a container, run it with --runtime nvidia"
        else:
            gpu_missing = None
    else:
        gpu_missing = None
    if hardware.arch not in profile.arches:
        return False, f"needs {' or '.join(profile.arches)}, this machine is {hardware.arch}"
    if profile.kind == "gpu":
        if hardware.jetson is not None:
            return False, "this is a Jetson (integrated GPU): use its jetson-* profile or --device jetson"
        if not hardware.gpus:
            return False, f"no NVIDIA GPU found ({hardware.gpu_reason})" if hardware.gpu_reason else "no NVIDIA GPU found"
    entry, why = choose_runtime(profile, hardware, runtime=runtime)
    if entry is None:
        return False, why or f"no {runtime or 'runtime'} entry of this profile is available"
    if gpu_missing and not _is_cpu(entry):
        return False, gpu_missing
    text = f"runtime {entry.label()}"
    if profile.kind != "cpu" and _is_cpu(entry):
        text += f" only, CPU fallback ({why or gpu_missing})"
    return True, text


def resolve_device(
    name: str, *, runtime: str | None = None, root: str | os.PathLike = "/", hardware: Hardware | None = None
) -> ResolvedDevice:
    """Resolve ``--device NAME`` (and ``--runtime``) on this machine.

    Args:
        name: a profile name, ``"jetson"`` or ``"auto"``.
        runtime: use this runtime (a registry name the profile lists); None: the profile's first
            available one. With ``"auto"``, only profiles that list it are candidates.
        root: filesystem root for detection (tests build fake trees).
        hardware: already detected hardware (skips detection).

    Returns:
        The :class:`ResolvedDevice`.

    Raises:
        InputError: unknown name, or the device is not usable here; the message says why,
            e.g. ``"--device jetson: not a Jetson: /proc/device-tree/model absent"``.
    """
    names = list_profiles()
    if name not in (*names, "jetson", "auto"):
        raise InputError(expected(f"a device: auto, jetson or one of {', '.join(names)}", repr(name), "--device"))
    if runtime is not None:
        runtime_info(runtime, where="--runtime")
    hw = hardware if hardware is not None else detect_hardware(root=root)

    if name == "jetson":
        if hw.jetson is None:
            raise InputError(f"--device jetson: {hw.not_jetson_reason}")
        if hw.jetson.profile is None:
            raise InputError(
                f"--device jetson: {hw.jetson.describe()} has no device profile "
                f"(part numbers {', '.join(hw.jetson.part_numbers) or 'unknown'}); known: "
                f"{', '.join(n for n in names if n.startswith('jetson-'))}"
            )
        return _resolved(name, load_profile(hw.jetson.profile), hw, runtime)

    if name == "auto":
        notes = []
        candidates = ([hw.jetson.profile] if hw.jetson is not None and hw.jetson.profile else []) + ["desktop-gpu", "cpu"]
        for cand in candidates:
            profile = load_profile(cand)
            if runtime is not None and runtime not in {e.runtime for e in profile.runtimes}:
                notes.append(f"{cand}: does not list runtime {runtime}")
                continue
            ok, why = usability(profile, hw, runtime=runtime)
            if ok:
                return _resolved(name, profile, hw, runtime, tuple(notes))
            notes.append(f"{cand}: {why}")
        raise InputError(f"--device auto: no usable device profile ({'; '.join(notes)})")

    return _resolved(name, load_profile(name), hw, runtime)


def _resolved(
    requested: str, profile: DeviceProfile, hw: Hardware, runtime: str | None, notes: tuple[str, ...] = ()
) -> ResolvedDevice:
    ok, why = usability(profile, hw, runtime=runtime)
    if not ok:
        via = f" with runtime {runtime}" if runtime is not None else ""
        raise InputError(f"--device {requested}: {profile.name} is not usable here{via}: {why}")
    entry, _ = choose_runtime(profile, hw, runtime=runtime)
    if "CPU fallback" in why:
        notes = (*notes, f"{profile.name}: {why}")
    return ResolvedDevice(requested=requested, profile=profile, hardware=hw, runtime=entry, notes=notes)
