"""Runtimes registered by name: one table says what each runtime is, probes and opens.

Every runtime gives its sessions the same surface, so the timing loop and the pipeline never
branch on it::

    session = open_runtime("model.onnx", runtime="onnxruntime", profile=load_profile("cpu"), threads=2)
    session.input_name, session.input_shape, session.input_dtype
    outputs = session.run(x)          # list of numpy arrays, in the model's output order
    session.describe()                # runtime, version, providers actually used, threads, ...
    session.last_split_ms             # TensorRT: {"h2d_ms", "compute_ms", "d2h_ms"} of the last run
    session.close()

The runtime is picked by NAME (the profile entry the parent resolved, or ``--runtime``), never
by the artifact's suffix; the suffix is only checked against the formats that runtime opens.
:data:`REGISTRY` is the one list of runtime names: profiles, detection, ``bench devices`` and the
run record all read it.

Adding a runtime (e.g. ``openvino``): one module, one registry line, profile data.

1. ``devices/runtimes/<module>.py`` with two module-level functions (heavy imports inside them)::

       def probe() -> RuntimeStatus: ...
           # importable here? its version; never raises ImportError (unavailable + reason instead)
       def open_session(path: Path, *, profile, threads: int | None,
                        providers: Sequence[str] | None) -> Session: ...
           # a Session (see devices.runtimes.base.Session); describe()["runtime"] is the registry name

   It imports :mod:`devices.runtimes.base` (``RuntimeStatus``, ``RuntimeFailure``, ``Session``),
   never this package. A missing package raises ``common.errors.MissingDependency`` naming the pip
   extra (``common.errors.require(module, pip=...)``).
2. One :class:`RuntimeInfo` line in ``_RUNTIMES`` below: name, module, the artifact suffixes it
   opens, the exporter format that builds them (``VariantSpec.fmt``), whether profile entries list
   providers, which of those providers run on the CPU, a title, the pip distributions whose
   versions a run records, and the precisions it runs (with the device capability a precision
   needs natively, e.g. OpenVINO's ``bf16`` needs ``BF16``; see :meth:`RuntimeInfo.precision_reason`).
3. Profile data: a ``- {runtime: <name>}`` entry in ``devices/profiles/<device>.yaml`` where the
   device should use it (in order of preference).

Example:
    >>> probe_runtimes()["onnxruntime"].available
    True
    >>> runtime_info("tensorrt").formats
    ('.engine', '.plan', '.trt')
    >>> runtime_info("onnxruntime").precision_reason("bf16")
    'OpenVINO-only here; onnxruntime has no bf16 inference precision'
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, Mapping, Sequence, Tuple

from common.errors import InputError, expected
from devices.runtimes.base import RuntimeFailure, RuntimeStatus, Session, import_cudart

__all__ = [
    "REGISTRY",
    "RuntimeFailure",
    "RuntimeInfo",
    "RuntimeStatus",
    "Session",
    "import_cudart",
    "open_runtime",
    "probe_runtimes",
    "runtime_info",
    "runtime_names",
]


@dataclass(frozen=True)
class RuntimeInfo:
    """One registered runtime: what it is and where its code lives.

    Attributes:
        name: the runtime's name in profiles, jobs and records, e.g. ``"onnxruntime"``.
        module: the dotted module defining ``probe()`` and ``open_session(...)``.
        formats: artifact file suffixes it opens, e.g. ``(".onnx",)``.
        build_format: the exporters' format (``VariantSpec.fmt``) whose artifacts it runs.
        takes_providers: profile entries list providers (ONNX Runtime execution providers); else none.
        cpu_providers: those of its providers that run on the CPU (a GPU profile falling back to
            them follows the ``cpu`` profile's precision rules).
        cpu_only: it always runs on the CPU (an entry without providers is then a CPU entry).
        title: one line for humans.
        packages: the pip distributions whose installed versions a run records.
        label: its name in sentences (``"ONNX Runtime"``); default :attr:`name`.
        precisions: the bench precisions it runs (``fp32``, ``int8``, ``bf16``...); empty: any.
        native: ``(precision, capability)`` pairs: a precision it runs only where its probe reports
            that capability (:attr:`RuntimeStatus.capabilities`), never emulated.
        takes_precision: ``open_session`` takes the variant's ``precision`` (it sets the inference
            precision itself, as OpenVINO does); other runtimes read it from the artifact.
    """

    name: str
    module: str
    formats: Tuple[str, ...]
    build_format: str
    takes_providers: bool = False
    cpu_providers: Tuple[str, ...] = ()
    cpu_only: bool = False
    title: str = ""
    packages: Tuple[str, ...] = ()
    label: str = ""
    precisions: Tuple[str, ...] = ()
    native: Tuple[Tuple[str, str], ...] = ()
    takes_precision: bool = False

    def load(self) -> ModuleType:
        """The runtime's module (cheap: heavy imports happen inside its functions)."""
        return importlib.import_module(self.module)

    def probe(self) -> RuntimeStatus:
        """Whether it is importable here, its version, and why not."""
        return self.load().probe()

    def version(self) -> str | None:
        """Its version string, when importable."""
        return self.probe().version

    def opens(self, path: str | os.PathLike) -> bool:
        """Whether ``path``'s suffix is one of :attr:`formats`."""
        return Path(path).suffix.lower() in self.formats

    def runs(self, precision: str) -> bool:
        """Whether it runs ``precision`` at all (a CPU without a native capability aside: :meth:`precision_reason`)."""
        return not self.precisions or precision in self.precisions

    def precision_reason(self, precision: str, status: RuntimeStatus | None = None) -> str | None:
        """Why it cannot run ``precision`` here, or None when it can.

        Args:
            precision: a bench precision (``"bf16"``).
            status: its probe on this machine (the capabilities); None: the capability is not checked.

        Example:
            >>> ov = RuntimeStatus("openvino", True, "2026.4.1", ("CPU",), capabilities=("FP32", "INT8"))
            >>> runtime_info("openvino").precision_reason("bf16", ov)
            'this CPU has no native BF16 (OpenVINO would emulate it)'
            >>> runtime_info("openvino").precision_reason("fp32", ov) is None
            True
        """
        label = self.label or self.name
        if not self.runs(precision):
            others = [r.label or r.name for r in REGISTRY.values() if r.precisions and precision in r.precisions]
            where = f"{'/'.join(others)}-only here" if others else "no runtime runs it here"
            return f"{where}; {self.name} has no {precision} inference precision"
        needs = dict(self.native).get(precision)
        if needs is not None and status is not None and needs not in status.capabilities:
            return f"this CPU has no native {needs} ({label} would emulate it)"
        return None

    def is_cpu(self, entry: Any) -> bool:
        """Whether a profile entry (:class:`devices.profiles.RuntimeChoice`) of this runtime runs on the CPU."""
        return self.cpu_only or (entry.accelerator is not None and entry.accelerator in self.cpu_providers)


_RUNTIMES = (
    RuntimeInfo("tensorrt", "devices.runtimes.tensorrt", formats=(".engine", ".plan", ".trt"), build_format="trt",
                title="NVIDIA TensorRT 8.5+ engines (built on the device)", packages=("tensorrt",),
                label="TensorRT", precisions=("fp32", "fp16", "int8")),
    RuntimeInfo("onnxruntime", "devices.runtimes.onnxrt", formats=(".onnx",), build_format="onnx",
                takes_providers=True, cpu_providers=("CPUExecutionProvider",),
                title="ONNX Runtime with the profile's execution providers",
                packages=("onnxruntime", "onnxruntime-gpu"), label="ONNX Runtime", precisions=("fp32", "fp16", "int8")),
    RuntimeInfo("openvino", "devices.runtimes.openvino", formats=(".xml", ".onnx"), build_format="openvino",
                cpu_only=True, title="OpenVINO on the CPU (IR or ONNX), inference precision fixed per variant",
                packages=("openvino",), label="OpenVINO", precisions=("fp32", "int8", "bf16", "fp16"),
                native=(("bf16", "BF16"), ("fp16", "FP16")), takes_precision=True),
)

REGISTRY: Mapping[str, RuntimeInfo] = MappingProxyType({r.name: r for r in _RUNTIMES})
"""Runtime name -> :class:`RuntimeInfo`, in registration order."""


def runtime_names() -> tuple[str, ...]:
    """The registered runtime names.

    Example:
        >>> "onnxruntime" in runtime_names()
        True
    """
    return tuple(REGISTRY)


def runtime_info(name: str, *, where: str = "runtime") -> RuntimeInfo:
    """The registry entry of ``name``.

    Raises:
        InputError: ``name`` is not a registered runtime.
    """
    info = REGISTRY.get(name)
    if info is None:
        raise InputError(expected(f"a runtime, one of {', '.join(REGISTRY)}", repr(name), where))
    return info


def probe_runtimes() -> dict[str, RuntimeStatus]:
    """Probe every registered runtime (imports them; call it once, not per frame).

    Returns:
        ``{name: RuntimeStatus}`` in registry order.
    """
    return {name: info.probe() for name, info in REGISTRY.items()}


def open_runtime(
    artifact_path: str | os.PathLike,
    *,
    runtime: str,
    profile: Any,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
    precision: str | None = None,
) -> Session:
    """Open an artifact in the named runtime on the device profile.

    Args:
        artifact_path: a file in one of the runtime's :attr:`RuntimeInfo.formats`.
        runtime: the runtime's registry name (the profile entry the parent resolved).
        profile: the :class:`devices.profiles.DeviceProfile` to run on; it must list ``runtime``.
        threads: CPU threads for the runtime's intra-op pool (None: the runtime's default).
        providers: execution providers instead of the profile's (runtimes that take providers).
        precision: the variant's precision (the job's): it must be one the runtime runs; a runtime
            that sets its inference precision itself (OpenVINO) runs at exactly this one.

    Returns:
        A :class:`Session`.

    Raises:
        InputError: missing file, unknown runtime, a runtime the profile does not list, an
            artifact format the runtime does not open, or a precision it does not run.
        MissingDependency: the runtime is not installed.
        RuntimeFailure: the runtime rejected the artifact or the device failed.
    """
    path = Path(artifact_path)
    if not path.is_file():
        raise InputError(expected("an existing model artifact", "no such file", str(path)))
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise InputError(expected("a thread count >= 1", threads, "threads"))
    info = runtime_info(runtime)
    listed = [r.runtime for r in profile.runtimes]
    if runtime not in listed:
        raise InputError(expected(f"a runtime listed by profile {profile.name} ({', '.join(dict.fromkeys(listed))})",
                                  runtime, str(path)))
    if not info.opens(path):
        raise InputError(expected(f"an artifact {runtime} opens ({', '.join(info.formats)})",
                                  path.suffix or "no suffix", str(path)))
    if providers and not info.takes_providers:
        raise InputError(expected(f"no providers for {runtime}", ", ".join(providers), "providers"))
    if precision is not None and not info.runs(precision):
        raise InputError(expected(f"a precision {runtime} runs ({', '.join(info.precisions)})", repr(precision),
                                  str(path)))
    extra = {"precision": precision} if info.takes_precision and precision is not None else {}
    return info.load().open_session(path, profile=profile, threads=threads, providers=providers, **extra)
