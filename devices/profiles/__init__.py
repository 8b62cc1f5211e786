"""Device profiles: one YAML data file per device, validated once into a frozen :class:`DeviceProfile`.

A profile says what ``--device NAME`` means: which runtimes to try in order, which precisions
the hardware runs fast (and why not, for the others), which telemetry sources to sample, the
power modes and the recommended setup. Profiles are data, not code branches: adding a device
means adding ``devices/profiles/<name>.yaml``.

File format, version 1 (``profile_version: 1``)::

    profile_version: 1
    name: jetson-agx-orin              # must equal the file name
    title: one line for humans
    kind: cpu | gpu | jetson
    arches: [aarch64]                  # platform.machine() values it runs on
    match:                             # jetson only: how detection recognises the module
      modules: [p3701]                 # part-number prefixes in /proc/device-tree/compatible
      models: ['AGX Orin']             # regexes over /proc/device-tree/model
      socs: [tegra234]
    runtimes:                          # in order of preference
      - {runtime: tensorrt}
      - {runtime: onnxruntime, providers: [CUDAExecutionProvider, CPUExecutionProvider]}
    precisions:
      fast: [fp32, fp16, int8]         # every known precision is either fast ...
      slow: {fp16: reason text}        # ... or slow, with the reason the run table shows
    dla_cores: 2
    sparsity_2_4: true
    telemetry: [psutil, thermal, ina3221, tegrastats]   # and/or nvml
    power_modes: [{name: MAXN, budget_w: null}]
    setup: {nvpmodel: MAXN, jetson_clocks: true, notes: [...]}
    notes: [...]

Example:
    >>> p = load_profile("cpu")
    >>> p.runs_fast("fp32"), p.runs_fast("fp16")
    (True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from common.errors import InputError, expected
from devices.runtimes import REGISTRY, runtime_info

__all__ = [
    "PROFILE_VERSION",
    "PRECISIONS",
    "TELEMETRY_SOURCES",
    "DeviceProfile",
    "JetsonMatch",
    "PowerMode",
    "RuntimeChoice",
    "Setup",
    "list_profiles",
    "load_profile",
]

PROFILE_VERSION = 1
"""The profile file format this code reads."""

PRECISIONS = ("fp32", "fp16", "int8", "bf16")
"""Numeric precisions a variant can run in; every profile classifies each as fast or slow."""
UNCLASSIFIED = {"bf16": "this profile does not classify bf16 (bf16 runs with OpenVINO on a CPU with native BF16 only)"}
"""Precisions added after profile_version 1 files were written: slow, with this reason, where a file omits them."""

TELEMETRY_SOURCES = ("psutil", "thermal", "nvml", "tegrastats", "ina3221")
KINDS = ("cpu", "gpu", "jetson")

_DIR = Path(__file__).resolve().parent
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class RuntimeChoice:
    """One runtime entry of a profile: the runtime and, for ONNX Runtime, its provider list.

    Attributes:
        runtime: a registered runtime name (:data:`devices.runtimes.REGISTRY`), e.g. ``"onnxruntime"``.
        providers: the runtime's providers in priority order (ONNX Runtime's execution providers;
            empty for a runtime that takes none, such as TensorRT).
    """

    runtime: str
    providers: tuple[str, ...] = ()

    @property
    def accelerator(self) -> str | None:
        """The provider this entry exists for (the first one), or None for a runtime without providers."""
        return self.providers[0] if self.providers else None

    def label(self) -> str:
        """Short human label, e.g. ``"onnxruntime[CUDAExecutionProvider]"``."""
        return f"{self.runtime}[{self.accelerator}]" if self.providers else self.runtime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"runtime": self.runtime}
        if self.providers:
            out["providers"] = list(self.providers)
        return out


@dataclass(frozen=True)
class JetsonMatch:
    """How detection recognises a Jetson module (see :mod:`devices.detect`).

    Attributes:
        modules: part-number prefixes, e.g. ``"p3701"`` or ``"p3767-0005"``.
        models: regular expressions searched in the device-tree model string.
        socs: SoC names from the compatible string, e.g. ``"tegra234"``.
    """

    modules: tuple[str, ...]
    models: tuple[str, ...]
    socs: tuple[str, ...]

    def matches_module(self, part_numbers: tuple[str, ...]) -> bool:
        """True when any detected part number starts with one of :attr:`modules`."""
        return any(pn.startswith(m) for pn in part_numbers for m in self.modules)

    def matches_model(self, model: str) -> bool:
        """True when the device-tree model string matches one of :attr:`models`."""
        return any(re.search(rx, model, flags=re.IGNORECASE) for rx in self.models)


@dataclass(frozen=True)
class PowerMode:
    """One nvpmodel power mode: its name as nvpmodel prints it and its budget (None: unbudgeted)."""

    name: str
    budget_w: float | None


@dataclass(frozen=True)
class Setup:
    """The recommended device state before measuring."""

    nvpmodel: str | None
    jetson_clocks: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class DeviceProfile:
    """A validated device profile (see the module docstring for the file format).

    Attributes:
        name: profile name, equal to its file name.
        profile_version: format version of the file (always :data:`PROFILE_VERSION`).
        title: one line for humans.
        kind: ``"cpu"``, ``"gpu"`` or ``"jetson"``.
        arches: CPU architectures (``platform.machine()``) it runs on.
        match: Jetson recognition rules, or None for non-Jetson profiles.
        runtimes: runtime entries in order of preference.
        fast: precisions the hardware runs fast.
        slow: precision -> why it is not fast here.
        dla_cores: number of NVDLA cores (0: none).
        sparsity_2_4: whether 2:4 structured sparsity is accelerated.
        telemetry: telemetry source names to sample.
        power_modes: nvpmodel modes (empty off Jetson).
        setup: recommended setup.
        notes: free-form notes.
        source: the file it was loaded from.
    """

    name: str
    profile_version: int
    title: str
    kind: str
    arches: tuple[str, ...]
    match: JetsonMatch | None
    runtimes: tuple[RuntimeChoice, ...]
    fast: tuple[str, ...]
    slow: Mapping[str, str] = field(hash=False)
    dla_cores: int
    sparsity_2_4: bool
    telemetry: tuple[str, ...]
    power_modes: tuple[PowerMode, ...]
    setup: Setup
    notes: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    def runs_fast(self, precision: str) -> bool:
        """Whether this device runs ``precision`` fast.

        Raises:
            InputError: ``precision`` is not one of :data:`PRECISIONS`.
        """
        _check_precision(precision)
        return precision in self.fast

    def slow_reason(self, precision: str) -> str | None:
        """Why ``precision`` is not fast here, or None when it is fast."""
        _check_precision(precision)
        return None if precision in self.fast else self.slow[precision]

    def skip_reason(self, precision: str) -> str | None:
        """The text the run table shows for a variant skipped for its precision, or None.

        Example:
            >>> load_profile("cpu").skip_reason("fp16").split(":")[0]
            'fp16 is not fast on cpu'
        """
        reason = self.slow_reason(precision)
        if reason is None:
            return None
        return f"{precision} is not fast on {self.name}: {reason}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the run record."""
        out: dict[str, Any] = {
            "name": self.name,
            "profile_version": self.profile_version,
            "title": self.title,
            "kind": self.kind,
            "arches": list(self.arches),
            "runtimes": [r.to_dict() for r in self.runtimes],
            "precisions": {"fast": list(self.fast), "slow": dict(self.slow)},
            "dla_cores": self.dla_cores,
            "sparsity_2_4": self.sparsity_2_4,
            "telemetry": list(self.telemetry),
            "power_modes": [{"name": m.name, "budget_w": m.budget_w} for m in self.power_modes],
            "setup": {
                "nvpmodel": self.setup.nvpmodel,
                "jetson_clocks": self.setup.jetson_clocks,
                "notes": list(self.setup.notes),
            },
        }
        if self.match is not None:
            out["match"] = {
                "modules": list(self.match.modules),
                "models": list(self.match.models),
                "socs": list(self.match.socs),
            }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise InputError(expected(f"a precision, one of {', '.join(PRECISIONS)}", repr(precision), "precision"))


def list_profiles() -> list[str]:
    """Names of the shipped profiles, sorted.

    Example:
        >>> "jetson-agx-orin" in list_profiles()
        True
    """
    return sorted(p.stem for p in _DIR.glob("*.yaml"))


_CACHE: dict[str, DeviceProfile] = {}


def load_profile(name: str) -> DeviceProfile:
    """Load and validate a shipped profile by name, or any profile file by path.

    Args:
        name: a profile name from :func:`list_profiles`, or a path to a ``.yaml`` profile file.

    Returns:
        The validated, immutable profile (cached per name).

    Raises:
        InputError: unknown name, unreadable file, or a file that fails validation; the message
            names the file and the key.

    Example:
        >>> load_profile("jetson-orin-nano").dla_cores
        0
    """
    if name in _CACHE:
        return _CACHE[name]
    if name.endswith((".yaml", ".yml")) or "/" in name:
        path = Path(name)
    else:
        path = _DIR / f"{name}.yaml"
        if not path.is_file():
            raise InputError(expected(f"a device profile, one of {', '.join(list_profiles())}", repr(name), "profile"))
    profile = _validate(_read_yaml(path), path)
    _CACHE[name] = profile
    return profile


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(expected("a readable profile file", f"{exc.__class__.__name__}: {exc.strerror}", str(path))) from exc
    except UnicodeDecodeError as exc:
        raise InputError(expected("a UTF-8 profile file", f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}",
                                  str(path))) from None
    if path.suffix == ".json":  # a profile the fleet host shipped as JSON, read where PyYAML is absent (devices.agent)
        import json

        try:
            return json.loads(text)
        except ValueError as exc:
            raise InputError(expected("valid JSON", str(exc), str(path))) from exc
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path} line {mark.line + 1}" if mark is not None else str(path)
        raise InputError(expected("valid YAML", str(exc).splitlines()[0], where)) from exc


class _Reader:
    """Typed access to one mapping of a profile file; every error names the file and key."""

    def __init__(self, data: Any, path: Path, prefix: str = "") -> None:
        self.path = path
        self.prefix = prefix
        if not isinstance(data, dict):
            raise InputError(expected("a mapping", type(data).__name__, self._where("")))
        self.data = data

    def _where(self, key: str) -> str:
        full = f"{self.prefix}{key}"
        return f"{self.path} key '{full}'" if full else str(self.path)

    def get(self, key: str, kind: type | tuple[type, ...], *, what: str, default: Any = ..., none_ok: bool = False) -> Any:
        if key not in self.data:
            if default is ...:
                raise InputError(expected(what, "nothing (key missing)", self._where(key)))
            return default
        value = self.data[key]
        if value is None and none_ok:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            raise InputError(expected(what, f"{value!r}", self._where(key)))
        return value

    def strings(self, key: str, *, what: str, allowed: tuple[str, ...] | None = None, default: Any = ...) -> tuple[str, ...]:
        values = self.get(key, list, what=f"a list of {what}", default=default)
        if values is default and default is not ...:
            return tuple(default)
        for i, v in enumerate(values):
            if not isinstance(v, str) or (allowed is not None and v not in allowed):
                choice = f"one of {', '.join(allowed)}" if allowed else "a string"
                raise InputError(expected(f"{what}: {choice}", repr(v), self._where(f"{key}[{i}]")))
        return tuple(values)

    def sub(self, key: str, *, what: str) -> "_Reader":
        return _Reader(self.get(key, dict, what=what), self.path, f"{self.prefix}{key}.")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _validate(raw: Any, path: Path) -> DeviceProfile:
    """The one validator for device profile files."""
    r = _Reader(raw, path)
    version = r.get("profile_version", int, what=f"profile_version {PROFILE_VERSION}")
    if version != PROFILE_VERSION:
        hint = "upgrade bench to read it" if version > PROFILE_VERSION else "rewrite it in the current format"
        raise InputError(expected(f"profile_version {PROFILE_VERSION} ({hint})", version, f"{path} key 'profile_version'"))
    name = r.get("name", str, what="the profile name")
    if not _NAME_RE.match(name) or (path.suffix in (".yaml", ".yml") and path.parent == _DIR and name != path.stem):
        raise InputError(expected(f"a lower-case name equal to the file name '{path.stem}'", repr(name), f"{path} key 'name'"))
    kind = r.get("kind", str, what=f"kind, one of {', '.join(KINDS)}")
    if kind not in KINDS:
        raise InputError(expected(f"kind, one of {', '.join(KINDS)}", repr(kind), f"{path} key 'kind'"))

    match = None
    if kind == "jetson":
        m = r.sub("match", what="a match mapping (modules, models, socs) for a jetson profile")
        match = JetsonMatch(
            modules=m.strings("modules", what="module part-number prefixes"),
            models=m.strings("models", what="model regexes"),
            socs=m.strings("socs", what="SoC names", default=()),
        )
        for i, rx in enumerate(match.models):
            try:
                re.compile(rx)
            except re.error as exc:
                raise InputError(expected("a valid regular expression", f"{rx!r} ({exc})", f"{path} key 'match.models[{i}]'")) from exc

    runtimes = []
    for i, entry in enumerate(r.get("runtimes", list, what="a non-empty list of runtime entries")):
        e = _Reader(entry, path, f"runtimes[{i}].")
        names = ", ".join(REGISTRY)
        runtime = e.get("runtime", str, what=f"runtime, one of {names}")
        info = runtime_info(runtime, where=f"{path} key 'runtimes[{i}].runtime'")
        providers = e.strings("providers", what=f"{runtime} provider names", default=())
        if info.takes_providers and not providers:
            raise InputError(expected(f"a providers list for {runtime}", "none", f"{path} key 'runtimes[{i}].providers'"))
        if not info.takes_providers and providers:
            raise InputError(expected(f"no providers for {runtime}", list(providers), f"{path} key 'runtimes[{i}].providers'"))
        runtimes.append(RuntimeChoice(runtime, providers))
    if not runtimes:
        raise InputError(expected("a non-empty list of runtime entries", "[]", f"{path} key 'runtimes'"))

    prec = r.sub("precisions", what="a precisions mapping (fast, slow)")
    fast = prec.strings("fast", what="precisions", allowed=PRECISIONS)
    slow_raw = prec.get("slow", dict, what="a mapping precision -> reason", default={}) or {}
    slow: dict[str, str] = {}
    for key, reason in slow_raw.items():
        if key not in PRECISIONS or key in fast:
            raise InputError(expected(f"a precision not listed as fast, one of {', '.join(PRECISIONS)}", repr(key), f"{path} key 'precisions.slow'"))
        if not isinstance(reason, str) or not reason.strip():
            raise InputError(expected("a reason text", repr(reason), f"{path} key 'precisions.slow.{key}'"))
        slow[key] = " ".join(reason.split())
    slow.update({p: why for p, why in UNCLASSIFIED.items() if p not in fast and p not in slow})
    missing = [p for p in PRECISIONS if p not in fast and p not in slow]
    if missing:
        raise InputError(expected("every precision listed as fast or slow (with a reason)", f"{', '.join(missing)} in neither", f"{path} key 'precisions'"))

    modes = []
    for i, entry in enumerate(r.get("power_modes", list, what="a list of power modes", default=[])):
        e = _Reader(entry, path, f"power_modes[{i}].")
        budget = e.get("budget_w", (int, float), what="a budget in watts or null", none_ok=True)
        modes.append(PowerMode(e.get("name", str, what="the nvpmodel mode name"), None if budget is None else float(budget)))

    s = r.sub("setup", what="a setup mapping (nvpmodel, jetson_clocks, notes)")
    setup = Setup(
        nvpmodel=s.get("nvpmodel", str, what="an nvpmodel mode name or null", none_ok=True),
        jetson_clocks=s.get("jetson_clocks", bool, what="true or false"),
        notes=s.strings("notes", what="notes", default=()),
    )
    if setup.nvpmodel is not None and setup.nvpmodel not in {m.name for m in modes}:
        raise InputError(expected("a mode named in power_modes", repr(setup.nvpmodel), f"{path} key 'setup.nvpmodel'"))

    dla = r.get("dla_cores", int, what="a number of DLA cores >= 0", default=0)
    if dla < 0:
        raise InputError(expected("a number of DLA cores >= 0", dla, f"{path} key 'dla_cores'"))
    return DeviceProfile(
        name=name,
        profile_version=version,
        title=r.get("title", str, what="a one-line title"),
        kind=kind,
        arches=r.strings("arches", what="architectures"),
        match=match,
        runtimes=tuple(runtimes),
        fast=fast,
        slow=MappingProxyType(slow),
        dla_cores=dla,
        sparsity_2_4=r.get("sparsity_2_4", bool, what="true or false", default=False),
        telemetry=r.strings("telemetry", what="telemetry sources", allowed=TELEMETRY_SOURCES),
        power_modes=tuple(modes),
        setup=setup,
        notes=r.strings("notes", what="notes", default=()),
        source=str(path),
    )
