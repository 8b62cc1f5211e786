"""OpenVINO session on the CPU: an ONNX model or an IR (``.xml`` + ``.bin``), at a FIXED inference precision.

OpenVINO picks its own inference precision unless told: on a CPU with native BF16 (AMX, AVX512-BF16)
it runs an FP32 model in bf16, which is faster and not FP32. This session therefore always sets
``INFERENCE_PRECISION_HINT`` (``f32`` for the fp32 and int8 variants; ``bf16``/``f16`` only when asked,
as variants of their own), reads it back from the compiled model and fails if OpenVINO chose another.
Threads follow ONNX Runtime's option (``INFERENCE_NUM_THREADS``; None = OpenVINO's default, one per
physical core), one stream (``NUM_STREAMS`` 1) and ``PERFORMANCE_HINT`` LATENCY: one frame at a time,
like every other row of the table.

Registered as ``openvino`` in :mod:`devices.runtimes` (``probe`` and ``open_session`` below). Without
the package, opening it raises :class:`common.errors.MissingDependency` naming the pip extra.

Example:
    >>> inference_precision("int8")
    'f32'
    >>> s = open_session(Path("int8-320.xml"), profile=None, threads=2)  # doctest: +SKIP
    >>> s.describe()["precision"], s.describe()["inference_precision"], s.describe()["threads"]  # doctest: +SKIP
    ('int8', 'f32', 2)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from common.errors import InputError, expected, require
from devices.runtimes.base import RuntimeFailure, RuntimeStatus

__all__ = ["INFERENCE_PRECISIONS", "NAME", "PIP", "OpenVINOSession", "cpu_capabilities", "inference_precision",
           "open_session", "probe"]

NAME = "openvino"
PIP = "pip install 'edge-bench[openvino]'"
# bench precision -> OpenVINO INFERENCE_PRECISION_HINT. INT8 graphs run their quantized layers in 8 bits;
# whatever stays float in them (the Detect head's decode) runs in f32, never in a lower precision.
INFERENCE_PRECISIONS = {"fp32": "f32", "int8": "f32", "bf16": "bf16", "fp16": "f16"}
# OPTIMIZATION_CAPABILITIES entry that says the CPU runs a hint natively
_NATIVE = {"bf16": "BF16", "f16": "FP16"}
_DEVICE = "CPU"


def _openvino():
    return require("openvino", pip=PIP)


def inference_precision(precision: str) -> str:
    """OpenVINO's inference precision hint for a bench precision (``fp32``/``int8`` -> ``f32``).

    Raises:
        InputError: a precision bench does not run on OpenVINO.

    Example:
        >>> inference_precision("bf16")
        'bf16'
    """
    hint = INFERENCE_PRECISIONS.get(precision)
    if hint is None:
        raise InputError(expected(f"a precision OpenVINO runs ({', '.join(INFERENCE_PRECISIONS)})", repr(precision),
                                  "openvino precision"))
    return hint


def cpu_capabilities(core: Any = None) -> tuple[str, ...]:
    """The CPU plugin's ``OPTIMIZATION_CAPABILITIES`` (``"FP32"``, ``"BF16"``, ``"INT8"``, ...).

    Raises:
        MissingDependency: openvino is not installed.
    """
    core = core if core is not None else _openvino().Core()
    return tuple(str(c) for c in core.get_property(_DEVICE, "OPTIMIZATION_CAPABILITIES"))


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("openvino")
    except metadata.PackageNotFoundError:  # a source build: the module's own string
        return str(_openvino().__version__).split("-")[0]


def probe() -> RuntimeStatus:
    """Whether OpenVINO is importable with a CPU plugin here, its version and the CPU's capabilities."""
    try:
        import openvino as ov
    except ImportError as exc:
        return RuntimeStatus(NAME, False, reason=f"openvino not importable ({exc}); install it with: {PIP}")
    version = _version()
    try:
        core = ov.Core()
        if _DEVICE not in core.available_devices:
            return RuntimeStatus(NAME, False, version, reason=f"openvino {version} has no CPU device here")
        caps = cpu_capabilities(core)
    except RuntimeError as exc:
        return RuntimeStatus(NAME, False, version, reason=f"openvino {version}: {str(exc).splitlines()[0]}")
    return RuntimeStatus(NAME, True, version, (_DEVICE,), f"importable; CPU capabilities {', '.join(caps)}",
                         capabilities=caps)


def open_session(
    path: Path,
    *,
    profile: Any = None,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
    precision: str | None = None,
) -> OpenVINOSession:
    """The registry's entry point: an :class:`OpenVINOSession` (providers do not apply; the device is the CPU)."""
    return OpenVINOSession(path, threads=threads, precision=precision)


class OpenVINOSession:
    """A compiled OpenVINO model with the :class:`devices.runtimes.Session` surface.

    Args:
        path: an ``.onnx`` model or an OpenVINO IR ``.xml`` (its ``.bin`` beside it).
        threads: ``INFERENCE_NUM_THREADS`` (None: OpenVINO's default, one per physical core).
        precision: the variant's precision (``fp32``, ``int8``, ``bf16``, ``fp16``); sets the inference
            precision hint (:data:`INFERENCE_PRECISIONS`). None: ``int8`` for a quantized model (it has
            FakeQuantize operations), else ``fp32`` -- both run at f32, never at OpenVINO's own choice.
        core: an ``openvino.Core`` to use (tests inject one; default a new one).

    Raises:
        MissingDependency: openvino is not installed.
        InputError: the file is not a model OpenVINO can read, or its input is not one fixed tensor.
        RuntimeFailure: the CPU does not run the precision natively, OpenVINO compiled another
            precision than asked, or compiling failed.
    """

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None, precision: str | None = None,
                 core: Any = None) -> None:
        import numpy as np

        ov = _openvino()
        self.path = Path(path)
        if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
            raise InputError(expected("a thread count >= 1", threads, "threads"))
        if precision is not None:
            inference_precision(precision)  # a precision OpenVINO runs: checked before reading the model
        core = core if core is not None else ov.Core()
        try:
            model = core.read_model(str(self.path))
        except RuntimeError as exc:
            raise InputError(expected("an ONNX model or OpenVINO IR that OpenVINO can read",
                                      str(exc).strip().splitlines()[0], str(self.path))) from exc
        quantized = any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        if precision == "int8" and not quantized:
            raise InputError(expected("a quantized (INT8) model for an int8 row", "a float model", str(self.path)))
        self.precision = precision or ("int8" if quantized else "fp32")
        hint = inference_precision(self.precision)
        if hint in _NATIVE and _NATIVE[hint] not in cpu_capabilities(core):
            raise RuntimeFailure(f"{self.path}: this CPU has no native {_NATIVE[hint]} (OpenVINO's CPU capabilities: "
                                 f"{', '.join(cpu_capabilities(core))}); {self.precision} would be emulated, not measured")
        if len(model.inputs) != 1:
            raise InputError(expected("a model with exactly one input", f"{len(model.inputs)} inputs", str(self.path)))
        config = {
            "INFERENCE_PRECISION_HINT": hint,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self._compiled = core.compile_model(model, _DEVICE, config)
        except RuntimeError as exc:
            raise RuntimeFailure(f"{self.path}: OpenVINO could not compile the model: "
                                 f"{str(exc).strip().splitlines()[0]}") from exc
        got = str(self._compiled.get_property("INFERENCE_PRECISION_HINT"))
        if _type_name(got) != hint:
            raise RuntimeFailure(f"{self.path}: asked OpenVINO for {hint} inference, it compiled {got}")
        self.inference_precision = hint
        self.threads = threads
        self.threads_used = int(self._compiled.get_property("INFERENCE_NUM_THREADS"))
        self.streams = int(self._compiled.get_property("NUM_STREAMS"))
        port = self._compiled.input(0)
        self.input_name: str = _port_name(port, "input0")
        self.input_shape: tuple[int | None, ...] = tuple(
            d.get_length() if d.is_static else None for d in port.get_partial_shape())
        self.input_dtype: np.dtype = np.dtype(port.get_element_type().to_dtype())
        self.output_names: list[str] = [_port_name(o, f"output{i}") for i, o in enumerate(self._compiled.outputs)]
        self.version = _version()
        self.last_split_ms: dict[str, float] | None = None
        self._request = self._compiled.create_infer_request()
        self._np = np
        self._checked: tuple[tuple[int, ...], Any] | None = None

    def _check(self, x) -> None:
        if x.dtype != self.input_dtype:
            raise InputError(expected(f"input dtype {self.input_dtype}", x.dtype, f"{self.path} input {self.input_name}"))
        if len(x.shape) != len(self.input_shape) or any(
            want is not None and want != got for want, got in zip(self.input_shape, x.shape)
        ):
            raise InputError(expected(f"input shape {self.input_shape}", tuple(x.shape), f"{self.path} input {self.input_name}"))
        self._checked = (tuple(x.shape), x.dtype)

    def run(self, x) -> list:
        """Run one batch; returns the outputs in the model's order (copies: the request reuses its buffers)."""
        if self._checked != (tuple(x.shape), x.dtype):
            self._check(x)
        request = self._request
        request.infer({0: self._np.ascontiguousarray(x)}, share_inputs=True)
        return [request.get_output_tensor(i).data.copy() for i in range(len(self.output_names))]

    def int8_layers(self) -> dict[str, int]:
        """How many convolutions the compiled graph runs in 8 bits and in float (read from the runtime model)."""
        counts = {"int8_convolutions": 0, "float_convolutions": 0}
        for op in self._compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if info["layerType"].astype(str) != "Convolution":
                continue
            low = info["runtimePrecision"].astype(str) in ("i8", "u8")
            counts["int8_convolutions" if low else "float_convolutions"] += 1
        return counts

    def describe(self) -> dict[str, Any]:
        """Runtime, version, precision (bench's and OpenVINO's), threads, streams, hint, input, artifact."""
        return {
            "runtime": NAME,
            "version": self.version,
            "device": _DEVICE,
            "precision": self.precision,
            "inference_precision": self.inference_precision,
            "threads": self.threads if self.threads else f"default (OpenVINO: {self.threads_used})",
            "threads_used": self.threads_used,
            "streams": self.streams,
            "performance_hint": "LATENCY",
            "input": {"name": self.input_name, "shape": list(self.input_shape), "dtype": str(self.input_dtype)},
            "artifact": str(self.path),
        }

    def close(self) -> None:
        """Release the request and the compiled model."""
        self._request = None
        self._compiled = None


def _port_name(port: Any, default: str) -> str:
    """A port's tensor name (sorted first of its names), or ``default`` for an unnamed tensor (some IRs have them)."""
    names = sorted(port.get_names())
    return names[0] if names else default


def _type_name(value: str) -> str:
    """``"<Type: 'float32'>"`` / ``"f32"`` -> ``"f32"`` (OpenVINO prints element types either way)."""
    text = value.lower()
    for long, short in (("bfloat16", "bf16"), ("float32", "f32"), ("float16", "f16")):
        if long in text:
            return short
    return text.strip()
