"""ONNX Runtime session: providers in the profile's order, thread settings recorded.

IO binding is used with the CUDA and TensorRT execution providers, where it lets ONNX Runtime
copy the input to the device once per run and place outputs in host memory directly; with the
CPU provider a plain ``run`` is already zero-copy on the input and binding buys nothing.

Registered as ``onnxruntime`` in :mod:`devices.runtimes` (``probe`` and ``open_session`` below).

Example:
    >>> from devices.profiles import load_profile
    >>> s = open_session(Path("model.onnx"), profile=load_profile("cpu"), threads=2)  # doctest: +SKIP
    >>> s.describe()["providers"]  # doctest: +SKIP
    ['CPUExecutionProvider']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.errors import InputError, expected, require
from devices.runtimes.base import RuntimeFailure, RuntimeStatus

__all__ = ["NAME", "ORT_DTYPES", "OrtSession", "choose_providers", "open_session", "probe"]

NAME = "onnxruntime"

ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}
_GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


def probe() -> RuntimeStatus:
    """Whether ONNX Runtime is importable here, its version and its available providers."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return RuntimeStatus(NAME, False, reason=f"onnxruntime not importable ({exc})")
    return RuntimeStatus(NAME, True, ort.__version__, tuple(ort.get_available_providers()), "importable")


def open_session(
    path: Path, *, profile: Any, threads: int | None = None, providers: Sequence[str] | None = None
) -> "OrtSession":
    """The registry's entry point: an :class:`OrtSession` (see :func:`devices.runtimes.open_runtime`)."""
    return OrtSession(path, profile=profile, threads=threads, providers=providers)


def choose_providers(profile: Any, available: Sequence[str], requested: Sequence[str] | None = None) -> list[str]:
    """The provider list to open a session with.

    With ``requested``, every name must be available. Otherwise the first ONNX Runtime entry of
    the profile whose first (accelerator) provider is available wins, filtered to what is available.

    Raises:
        InputError: a requested provider is not available.
        RuntimeFailure: no entry of the profile can run here.

    Example:
        >>> from devices.profiles import load_profile
        >>> choose_providers(load_profile("jetson-agx-orin"), ["CPUExecutionProvider"])
        ['CPUExecutionProvider']
    """
    if requested:
        missing = [p for p in requested if p not in available]
        if missing:
            raise InputError(expected(f"providers available here ({', '.join(available)})", ", ".join(missing), "providers"))
        return list(requested)
    wanted = [r for r in profile.runtimes if r.runtime == NAME]
    for entry in wanted:
        if entry.accelerator in available:
            return [p for p in entry.providers if p in available]
    raise RuntimeFailure(
        f"profile {profile.name}: none of its ONNX Runtime providers is available "
        f"(wanted {', '.join(e.accelerator or '' for e in wanted)}; available: {', '.join(available)})"
    )


class OrtSession:
    """An ONNX Runtime inference session with the :class:`devices.runtimes.Session` surface.

    Args:
        path: the ``.onnx`` file.
        profile: the device profile (its runtime entries give the provider order).
        threads: intra-op threads (None: ONNX Runtime's default, one per physical core).
        providers: explicit provider list overriding the profile's.
        io_binding: force IO binding on or off (None: on with CUDA/TensorRT providers).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        profile: Any,
        threads: int | None = None,
        providers: Sequence[str] | None = None,
        io_binding: bool | None = None,
    ) -> None:
        ort = require("onnxruntime")
        self._ort = ort
        self.path = Path(path)
        chosen = choose_providers(profile, ort.get_available_providers(), providers)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = int(threads or 0)
        opts.log_severity_level = 3
        provider_args: list[Any] = []
        for p in chosen:
            if p == "TensorrtExecutionProvider":
                from common.paths import runtime_cache_dir

                cache = runtime_cache_dir("ort-trt")
                provider_args.append((p, {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache)}))
            else:
                provider_args.append(p)
        try:
            self._sess = ort.InferenceSession(str(self.path), sess_options=opts, providers=provider_args)
        except (ort.capi.onnxruntime_pybind11_state.InvalidGraph,
                ort.capi.onnxruntime_pybind11_state.InvalidProtobuf,
                ort.capi.onnxruntime_pybind11_state.NoSuchFile) as exc:
            raise InputError(expected("an ONNX model ONNX Runtime can load", str(exc).splitlines()[0], str(self.path))) from exc
        except (ort.capi.onnxruntime_pybind11_state.Fail,
                ort.capi.onnxruntime_pybind11_state.NotImplemented) as exc:
            raise RuntimeFailure(f"{self.path}: ONNX Runtime could not create a session: {str(exc).splitlines()[0]}") from exc
        inputs = self._sess.get_inputs()
        if len(inputs) != 1:
            raise InputError(expected("a model with exactly one input", f"{len(inputs)} inputs", str(self.path)))
        inp = inputs[0]
        if inp.type not in ORT_DTYPES:
            raise InputError(expected("a numeric input tensor", inp.type, str(self.path)))
        self.input_name: str = inp.name
        self.input_shape: tuple[int | None, ...] = tuple(d if isinstance(d, int) else None for d in inp.shape)
        self.input_dtype: np.dtype = np.dtype(ORT_DTYPES[inp.type])
        self.output_names: list[str] = [o.name for o in self._sess.get_outputs()]
        self.providers_requested = chosen
        self.providers_used: list[str] = list(self._sess.get_providers())
        self.threads = threads
        gpu = any(p in _GPU_PROVIDERS for p in self.providers_used)
        self.io_binding = gpu if io_binding is None else bool(io_binding)
        self._binding = self._sess.io_binding() if self.io_binding else None
        self.last_split_ms: dict[str, float] | None = None
        self._x_shape_checked: tuple[int, ...] | None = None

    def _check(self, x: np.ndarray) -> None:
        if x.dtype != self.input_dtype:
            raise InputError(expected(f"input dtype {self.input_dtype}", x.dtype, f"{self.path} input {self.input_name}"))
        if len(x.shape) != len(self.input_shape) or any(
            want is not None and want != got for want, got in zip(self.input_shape, x.shape)
        ):
            raise InputError(expected(f"input shape {self.input_shape}", tuple(x.shape), f"{self.path} input {self.input_name}"))
        self._x_shape_checked = tuple(x.shape)

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Run one batch; returns the outputs in the model's order."""
        if x.shape != self._x_shape_checked or x.dtype != self.input_dtype:
            self._check(x)
        if self._binding is None:
            return self._sess.run(self.output_names, {self.input_name: x})
        b = self._binding
        b.bind_cpu_input(self.input_name, np.ascontiguousarray(x))
        for name in self.output_names:
            b.bind_output(name, "cpu")
        self._sess.run_with_iobinding(b)
        return b.copy_outputs_to_cpu()

    def describe(self) -> dict[str, Any]:
        """Runtime, version, providers actually used, thread settings, IO binding."""
        return {
            "runtime": NAME,
            "version": self._ort.__version__,
            "providers": self.providers_used,
            "providers_requested": self.providers_requested,
            "intra_op_threads": self.threads if self.threads else "default (ONNX Runtime: one per physical core)",
            "inter_op_threads": 1,
            "execution_mode": "sequential",
            "graph_optimization": "all",
            "io_binding": self.io_binding,
            "input": {"name": self.input_name, "shape": list(self.input_shape), "dtype": str(self.input_dtype)},
            "artifact": str(self.path),
        }

    def close(self) -> None:
        """Release the session."""
        self._binding = None
        self._sess = None
