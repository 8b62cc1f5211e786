"""TensorRT engine runner (TensorRT 8.5+ and 10.x): deserialize, set the input shape, run with
``execute_async_v3`` on device buffers, and split each run into H2D / compute / D2H with CUDA
events, the way trtexec reports them.

Uses the name-based tensor API (``num_io_tensors``, ``get_tensor_name``, ``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``) that TensorRT 8.5 introduced and 10.x kept, so the
same code runs on JetPack 5 (TensorRT 8.5), JetPack 6 (8.6 / 10.3) and desktop TensorRT 10.
CUDA comes from cuda-python (``cuda.bindings.runtime``, or ``cuda.cudart`` before 12.6); host
buffers are pinned (``cudaMallocHost``) so the copies are real DMA transfers.

The engine *builder* is :mod:`devices.trt_engine`; this module only runs engines. It cannot
run without an NVIDIA GPU; ``devices/smoke.py`` is the on-device check. Registered as ``tensorrt``
in :mod:`devices.runtimes` (``probe`` and ``open_session`` below).

Example:
    >>> s = TensorRTSession("yolo11n-fp16.engine")            # doctest: +SKIP
    >>> outputs = s.run(x); s.last_split_ms                      # doctest: +SKIP
    {'h2d_ms': 0.21, 'compute_ms': 3.9, 'd2h_ms': 0.35}
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.errors import InputError, MissingDependency, expected, require
from devices.runtimes.base import RuntimeFailure, RuntimeStatus, import_cudart

__all__ = ["NAME", "TensorRTSession", "CudaCalls", "open_session", "probe", "trt_version_tuple"]

NAME = "tensorrt"
MIN_VERSION = (8, 5)
_TRT_PIP = "pip install 'edge-bench[tensorrt]' (on Jetson: sudo apt install python3-libnvinfer)"
_NO_GPU_ERRORS = {"cudaErrorNoDevice", "cudaErrorInsufficientDriver", "cudaErrorInitializationError"}


def trt_version_tuple(version: str) -> tuple[int, int]:
    """``"10.3.0.30"`` -> ``(10, 3)``.

    Example:
        >>> trt_version_tuple("8.6.1.post1")
        (8, 6)
    """
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    while len(parts) < 2:
        parts.append(0)
    return parts[0], parts[1]


def probe() -> RuntimeStatus:
    """Whether TensorRT >= 8.5 and the CUDA Python bindings are importable here, and the version."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        return RuntimeStatus(NAME, False, reason=f"tensorrt not importable ({exc})")
    version = getattr(trt, "__version__", None)
    try:
        import_cudart()
    except MissingDependency as exc:
        return RuntimeStatus(NAME, False, version, reason=f"tensorrt {version} importable but {exc}")
    if trt_version_tuple(version or "0.0") < MIN_VERSION:
        return RuntimeStatus(NAME, False, version,
                             reason=f"tensorrt {version} is older than 8.5 (the runner needs execute_async_v3)")
    return RuntimeStatus(NAME, True, version, reason="importable")


def open_session(
    path: Path, *, profile: Any = None, threads: int | None = None, providers: Sequence[str] | None = None
) -> "TensorRTSession":
    """The registry's entry point: a :class:`TensorRTSession` on GPU 0 (threads and providers do not apply)."""
    return TensorRTSession(path)


class CudaCalls:
    """cuda-python runtime calls with their error codes checked (one clear line on failure)."""

    def __init__(self, cudart: Any) -> None:
        self.rt = cudart

    def __call__(self, what: str, result: Any) -> Any:
        """Check ``result`` (cuda-python returns ``(err, *values)``) and return the values."""
        if not isinstance(result, tuple):
            result = (result,)
        err, values = result[0], result[1:]
        if int(err) != 0:
            name = self._name(err)
            hint = " (no usable NVIDIA GPU or driver here)" if name in _NO_GPU_ERRORS else ""
            raise RuntimeFailure(f"CUDA {what} failed: {name} ({int(err)}){hint}")
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def _name(self, err: Any) -> str:
        try:
            res = self.rt.cudaGetErrorName(err)
            raw = res[1] if isinstance(res, tuple) else res
            return raw.decode() if isinstance(raw, bytes) else str(raw)
        except (AttributeError, TypeError, ValueError):
            return str(err)


@dataclass
class _Buffer:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int
    device: int
    host_ptr: int
    host: np.ndarray


class TensorRTSession:
    """A TensorRT engine with the :class:`devices.runtimes.Session` surface.

    Args:
        path: the serialized engine (``.engine`` / ``.plan`` / ``.trt``).
        device: CUDA device index.
        trt: the ``tensorrt`` module (tests inject a fake; None imports it).
        cudart: the CUDA runtime bindings (tests inject a fake; None imports cuda-python).

    Raises:
        MissingDependency: tensorrt or cuda-python is not importable, or TensorRT is older than 8.5.
        RuntimeFailure: CUDA or TensorRT failed (no GPU, engine built for another TensorRT/GPU).
        InputError: the engine's I/O is not one input with static or profiled shapes.
    """

    def __init__(self, path: str | os.PathLike, *, device: int = 0, trt: Any = None, cudart: Any = None) -> None:
        self.path = Path(path)
        self._closed = True
        trt = trt if trt is not None else require("tensorrt", pip=_TRT_PIP)
        version = str(getattr(trt, "__version__", "0.0"))
        if trt_version_tuple(version) < MIN_VERSION:
            raise MissingDependency(
                f"tensorrt {version} is too old: the runner needs TensorRT >= 8.5 (execute_async_v3); {_TRT_PIP}"
            )
        self._trt = trt
        self.version = version
        cuda = CudaCalls(cudart if cudart is not None else import_cudart())
        self._cuda = cuda
        rt = cuda.rt
        self.device = device
        cuda("cudaSetDevice", rt.cudaSetDevice(device))
        props = cuda("cudaGetDeviceProperties", rt.cudaGetDeviceProperties(device))
        name = getattr(props, "name", b"")
        self.device_name = (name.decode(errors="replace") if isinstance(name, bytes) else str(name)).strip("\x00 ")

        self._logger = _make_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        try:
            blob = self.path.read_bytes()
        except OSError as exc:
            raise InputError(expected("a readable TensorRT engine", exc.strerror, str(self.path))) from exc
        engine = self._runtime.deserialize_cuda_engine(blob)
        if engine is None:
            detail = self._logger.last_error() or "deserialize_cuda_engine returned None"
            raise RuntimeFailure(
                f"{self.path}: TensorRT {version} could not deserialize the engine ({detail}); engines are "
                f"specific to the TensorRT version and GPU that built them: rebuild it on this device"
            )
        self._engine = engine
        context = engine.create_execution_context()
        if context is None:
            raise RuntimeFailure(f"{self.path}: TensorRT could not create an execution context ({self._logger.last_error() or 'out of device memory?'})")
        self._context = context

        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or not outputs:
            raise InputError(expected("an engine with one input and at least one output", f"inputs {inputs}, outputs {outputs}", str(self.path)))
        self.input_name = inputs[0]
        self.output_names = outputs
        shape = tuple(int(d) for d in engine.get_tensor_shape(self.input_name))
        self.dynamic_input = any(d < 0 for d in shape)
        if self.dynamic_input:
            # an engine built with an optimization profile: run at the profile's optimum shape
            _min, opt, _max = engine.get_tensor_profile_shape(self.input_name, 0)
            shape = tuple(int(d) for d in opt)
        if not context.set_input_shape(self.input_name, shape):
            raise RuntimeFailure(f"{self.path}: TensorRT rejected input shape {shape} for {self.input_name}")
        self.input_shape: tuple[int | None, ...] = shape
        self.input_dtype: np.dtype = self._np_dtype(self.input_name)

        self._buffers: dict[str, _Buffer] = {}
        self._stream = None
        self._events: list[Any] = []
        self._closed = False
        try:
            for n in names:
                tshape = tuple(int(d) for d in context.get_tensor_shape(n))
                if any(d < 0 for d in tshape):
                    raise InputError(expected("static output shapes once the input shape is set", f"{n} {tshape}", str(self.path)))
                self._buffers[n] = self._allocate(n, tshape, self._np_dtype(n))
                if not context.set_tensor_address(n, self._buffers[n].device):
                    raise RuntimeFailure(f"{self.path}: TensorRT rejected the device address for {n}")
            self._stream = cuda("cudaStreamCreate", rt.cudaStreamCreate())
            self._events = [cuda("cudaEventCreate", rt.cudaEventCreate()) for _ in range(4)]
        except BaseException:
            self.close()
            raise
        self.last_split_ms: dict[str, float] | None = None
        self.output_shapes = {n: self._buffers[n].shape for n in outputs}

    # -- setup helpers ------------------------------------------------------------------

    def _np_dtype(self, name: str) -> np.dtype:
        trt_dtype = self._engine.get_tensor_dtype(name)
        try:
            return np.dtype(self._trt.nptype(trt_dtype))
        except TypeError as exc:
            raise InputError(expected("I/O tensors numpy can hold (float32, float16, int8, int32, ...)", f"{name}: {trt_dtype}", str(self.path))) from exc

    def _allocate(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> _Buffer:
        cuda, rt = self._cuda, self._cuda.rt
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        device = int(cuda("cudaMalloc", rt.cudaMalloc(max(nbytes, 1))))
        buf = _Buffer(name, shape, dtype, nbytes, device, 0, np.empty(0, dtype))
        self._buffers[name] = buf  # registered before the host allocation so close() frees it
        host_ptr = int(cuda("cudaMallocHost", rt.cudaMallocHost(max(nbytes, 1))))
        buf.host_ptr = host_ptr
        raw = (ctypes.c_uint8 * max(nbytes, 1)).from_address(host_ptr)
        buf.host = np.frombuffer(raw, dtype=np.uint8, count=nbytes).view(dtype).reshape(shape)
        return buf

    # -- Session surface ----------------------------------------------------------------

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Copy ``x`` in, run, copy the outputs out; sets :attr:`last_split_ms`."""
        if self._closed:
            raise RuntimeFailure(f"{self.path}: session is closed")
        if x.dtype != self.input_dtype:
            raise InputError(expected(f"input dtype {self.input_dtype}", x.dtype, f"{self.path} input {self.input_name}"))
        if tuple(x.shape) != tuple(self.input_shape):
            raise InputError(expected(f"input shape {tuple(self.input_shape)}", tuple(x.shape), f"{self.path} input {self.input_name}"))
        cuda, rt = self._cuda, self._cuda.rt
        kind_h2d = rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        kind_d2h = rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        stream, ev = self._stream, self._events
        inp = self._buffers[self.input_name]
        np.copyto(inp.host, x)
        cuda("cudaEventRecord", rt.cudaEventRecord(ev[0], stream))
        cuda("cudaMemcpyAsync H2D", rt.cudaMemcpyAsync(inp.device, inp.host_ptr, inp.nbytes, kind_h2d, stream))
        cuda("cudaEventRecord", rt.cudaEventRecord(ev[1], stream))
        if not self._context.execute_async_v3(int(stream)):
            raise RuntimeFailure(f"{self.path}: TensorRT execute_async_v3 failed ({self._logger.last_error() or 'no message'})")
        cuda("cudaEventRecord", rt.cudaEventRecord(ev[2], stream))
        for name in self.output_names:
            out = self._buffers[name]
            cuda("cudaMemcpyAsync D2H", rt.cudaMemcpyAsync(out.host_ptr, out.device, out.nbytes, kind_d2h, stream))
        cuda("cudaEventRecord", rt.cudaEventRecord(ev[3], stream))
        cuda("cudaStreamSynchronize", rt.cudaStreamSynchronize(stream))
        self.last_split_ms = {
            "h2d_ms": float(cuda("cudaEventElapsedTime", rt.cudaEventElapsedTime(ev[0], ev[1]))),
            "compute_ms": float(cuda("cudaEventElapsedTime", rt.cudaEventElapsedTime(ev[1], ev[2]))),
            "d2h_ms": float(cuda("cudaEventElapsedTime", rt.cudaEventElapsedTime(ev[2], ev[3]))),
        }
        # the pinned buffers are reused by the next run: hand out copies
        return [self._buffers[n].host.copy() for n in self.output_names]

    def describe(self) -> dict[str, Any]:
        """Runtime, version, device, I/O and how the split timing is taken."""
        return {
            "runtime": NAME,
            "version": self.version,
            "device": self.device_name,
            "device_index": self.device,
            "providers": ["TensorRT"],
            "threads": None,
            "input": {"name": self.input_name, "shape": list(self.input_shape), "dtype": str(self.input_dtype),
                      "dynamic": self.dynamic_input},
            "outputs": {n: {"shape": list(self._buffers[n].shape), "dtype": str(self._buffers[n].dtype)} for n in self.output_names},
            "host_memory": "pinned (cudaMallocHost)",
            "split_timing": "CUDA events around H2D copy, execute_async_v3 and D2H copies (as trtexec)",
            "artifact": str(self.path),
        }

    def close(self) -> None:
        """Free device and pinned host memory, events and the stream (idempotent)."""
        if getattr(self, "_closed", True) and not getattr(self, "_buffers", None):
            return
        cuda = self._cuda
        rt = cuda.rt
        for ev in getattr(self, "_events", []):
            rt.cudaEventDestroy(ev)
        self._events = []
        if getattr(self, "_stream", None) is not None:
            rt.cudaStreamDestroy(self._stream)
            self._stream = None
        for buf in getattr(self, "_buffers", {}).values():
            if buf.device:
                rt.cudaFree(buf.device)
            if buf.host_ptr:
                buf.host = np.empty(0, buf.dtype)
                rt.cudaFreeHost(buf.host_ptr)
        self._buffers = {}
        self._context = None
        self._engine = None
        self._closed = True

    def __enter__(self) -> "TensorRTSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _make_logger(trt: Any) -> Any:
    """A TensorRT logger that keeps errors so failures can say what TensorRT said."""

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(str(msg).strip())

        def last_error(self) -> str | None:
            return self.errors[-1] if self.errors else None

    return _Logger()
