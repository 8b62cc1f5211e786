"""The one fake ``tensorrt`` (runner and builder API) and ``cudart`` for the tests: no GPU needed.

Runner side (:class:`devices.runtimes.tensorrt.TensorRTSession`): the fake CUDA "device" memory is
host memory (ctypes buffers) and memcpy is memmove, so the runner's buffer wiring, dtypes, shapes
and copies are exercised for real; only the GPU is fake. An engine is :func:`engine_blob` (a magic
tag and JSON); the fake engine computes ``out = 2 * input + 1`` and ``score = input.sum(axis=(1, 2, 3))``.

Builder side (:mod:`exporters.tensorrt_build`): :func:`make_trt` records what the builder was asked
to do in ``.calls`` (network flags, config: flags, pools, DLA, timing cache); the engine it builds
is an :func:`engine_blob` whose ``network`` field holds the first bytes of the parsed ONNX.
"""

from __future__ import annotations

import ctypes
import enum
import json
import types

import numpy as np

MAGIC = b"FAKEENGINE"


def engine_blob(*, input_shape=(1, 3, 4, 4), dtype="float32", profile=None, extra_inputs=0, out_dtype=None,
                network=None):
    return MAGIC + json.dumps({"input_shape": list(input_shape), "dtype": dtype, "profile": profile,
                               "extra_inputs": extra_inputs, "out_dtype": out_dtype or dtype,
                               "network": network}).encode()


def engine_spec(blob: bytes) -> dict:
    """The JSON an :func:`engine_blob` carries."""
    assert blob.startswith(MAGIC), blob[:16]
    return json.loads(blob[len(MAGIC):])


class DataType(enum.Enum):
    FLOAT = "float32"
    HALF = "float16"
    INT32 = "int32"
    BF16 = "bfloat16"


class TensorIOMode(enum.Enum):
    INPUT = 1
    OUTPUT = 2


class Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class ILogger:
    Severity = Severity

    def __init__(self):
        pass


def nptype(dt):
    if dt is DataType.BF16:
        raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")
    return np.dtype(dt.value).type


class _Engine:
    def __init__(self, spec):
        self.spec = spec
        dt = DataType(spec["dtype"])
        odt = DataType(spec["out_dtype"])
        shape = tuple(spec["input_shape"])
        self.io = [("images", TensorIOMode.INPUT, shape, dt)]
        self.io += [(f"extra{i}", TensorIOMode.INPUT, shape, dt) for i in range(spec["extra_inputs"])]
        self.io += [("out", TensorIOMode.OUTPUT, shape, odt), ("score", TensorIOMode.OUTPUT, (shape[0],), odt)]

    @property
    def num_io_tensors(self):
        return len(self.io)

    def get_tensor_name(self, i):
        return self.io[i][0]

    def _t(self, name):
        return next(t for t in self.io if t[0] == name)

    def get_tensor_mode(self, name):
        return self._t(name)[1]

    def get_tensor_shape(self, name):
        return self._t(name)[2]

    def get_tensor_dtype(self, name):
        return self._t(name)[3]

    def get_tensor_profile_shape(self, name, index):
        p = self.spec["profile"]
        return [tuple(p["min"]), tuple(p["opt"]), tuple(p["max"])]

    def create_execution_context(self):
        return _Context(self)


class _Context:
    def __init__(self, engine):
        self.engine = engine
        self.shapes = {}
        self.addresses = {}
        self.runs = 0

    def set_input_shape(self, name, shape):
        if any(d < 0 for d in shape):
            return False
        self.shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name):
        ishape = self.shapes.get("images", self.engine.get_tensor_shape("images"))
        if name == "score":
            return (ishape[0],)
        return ishape

    def set_tensor_address(self, name, ptr):
        self.addresses[name] = ptr
        return True

    def execute_async_v3(self, stream):
        assert isinstance(stream, int)
        shape = self.get_tensor_shape("images")
        dt = np.dtype(self.engine.spec["dtype"])
        odt = np.dtype(self.engine.spec["out_dtype"])
        x = _view(self.addresses["images"], shape, dt).astype(np.float64)
        _view(self.addresses["out"], shape, odt)[...] = 2 * x + 1
        _view(self.addresses["score"], (shape[0],), odt)[...] = x.sum(axis=tuple(range(1, x.ndim)))
        self.runs += 1
        return True


def _view(ptr, shape, dtype):
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = (ctypes.c_uint8 * n).from_address(ptr)
    return np.frombuffer(raw, dtype=np.uint8).view(dtype).reshape(shape)


class Runtime:
    def __init__(self, logger):
        self.logger = logger

    def deserialize_cuda_engine(self, blob):
        if not blob.startswith(MAGIC):
            self.logger.log(Severity.ERROR, "IRuntime::deserializeCudaEngine: Error Code 1: Serialization (magic tag does not match)")
            return None
        return _Engine(json.loads(blob[len(MAGIC):]))


class BuilderFlag(enum.Enum):
    FP16 = "FP16"
    INT8 = "INT8"
    GPU_FALLBACK = "GPU_FALLBACK"
    SPARSE_WEIGHTS = "SPARSE_WEIGHTS"


class MemoryPoolType(enum.Enum):
    WORKSPACE = "WORKSPACE"


class DeviceType(enum.Enum):
    GPU = "GPU"
    DLA = "DLA"


class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0


class TimingCache:
    def __init__(self, blob: bytes):
        self.blob = blob

    def serialize(self) -> bytes:
        return self.blob + b"+timings"


class BuilderConfig:
    def __init__(self):
        self.flags = set()
        self.pools = {}
        self.default_device_type = DeviceType.GPU
        self.DLA_core = -1
        self.int8_calibrator = None
        self.timing_cache = None

    def set_memory_pool_limit(self, pool, size):
        self.pools[pool] = size

    def set_flag(self, flag):
        self.flags.add(flag)

    def create_timing_cache(self, blob):
        return TimingCache(bytes(blob))

    def set_timing_cache(self, cache, ignore_mismatch):
        self.timing_cache = cache
        return True

    def get_timing_cache(self):
        return self.timing_cache


class Parser:
    def __init__(self, network, logger):
        self.network = network
        self.errors = []

    def parse(self, blob: bytes) -> bool:
        self.network.parsed = blob
        if blob.startswith(b"BROKEN"):
            self.errors = ["In node 3 (Conv): unsupported", "second error"]
            return False
        return True

    @property
    def num_errors(self):
        return len(self.errors)

    def get_error(self, i):
        return self.errors[i]


def make_trt(version: str = "10.3.0", *, fail_build: bool = False, dla_cores: int = 0):
    """A module-like namespace; ``.calls`` records the last build (network flags, config)."""
    calls = {}

    class Builder:
        num_DLA_cores = dla_cores

        def __init__(self, logger):
            self.logger = logger
            calls["builder"] = self

        def create_network(self, flags):
            calls["network_flags"] = flags
            return types.SimpleNamespace(parsed=None)

        def create_builder_config(self):
            config = BuilderConfig()
            calls["config"] = config
            return config

        def build_serialized_network(self, network, config):
            if fail_build:
                self.logger.log(Severity.ERROR, "out of memory while building")
                return None
            return engine_blob(input_shape=(1, 3, 64, 64), network=network.parsed[:16].decode("latin-1"))

    module = types.SimpleNamespace(
        __version__=version, ILogger=ILogger, Builder=Builder, OnnxParser=Parser, Runtime=Runtime,
        BuilderFlag=BuilderFlag, MemoryPoolType=MemoryPoolType, DeviceType=DeviceType,
        NetworkDefinitionCreationFlag=NetworkDefinitionCreationFlag, TensorIOMode=TensorIOMode, DataType=DataType,
        nptype=nptype, calls=calls,
    )
    if version.startswith("8."):
        class IInt8EntropyCalibrator2:  # present up to TensorRT 10.x (deprecated there)
            def __init__(self):
                pass

        module.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    return module


class FakeCudart:
    """cuda-python's runtime API shape: every call returns (err, *values); err 0 is success."""

    class cudaMemcpyKind:
        cudaMemcpyHostToDevice = 1
        cudaMemcpyDeviceToHost = 2

    def __init__(self, fail=None):
        self.fail = fail or {}
        self.buffers = {}
        self.host = {}
        self.streams = set()
        self.events = []
        self.tick = 0.0
        self.copies = []

    def _err(self, name):
        return self.fail.get(name, 0)

    def cudaGetErrorName(self, err):
        return 0, {2: b"cudaErrorMemoryAllocation", 100: b"cudaErrorNoDevice"}.get(int(err), b"cudaErrorUnknown")

    def cudaSetDevice(self, i):
        return (self._err("cudaSetDevice"),)

    def cudaGetDeviceProperties(self, i):
        return self._err("cudaGetDeviceProperties"), types.SimpleNamespace(name=b"Fake Orin GPU\x00\x00")

    def _alloc(self, table, n, name):
        if self._err(name):
            return self._err(name), None
        buf = (ctypes.c_uint8 * n)()
        ptr = ctypes.addressof(buf)
        table[ptr] = buf
        return 0, ptr

    def cudaMalloc(self, n):
        return self._alloc(self.buffers, n, "cudaMalloc")

    def cudaMallocHost(self, n):
        return self._alloc(self.host, n, "cudaMallocHost")

    def cudaFree(self, ptr):
        del self.buffers[ptr]
        return (0,)

    def cudaFreeHost(self, ptr):
        del self.host[ptr]
        return (0,)

    def cudaMemcpyAsync(self, dst, src, n, kind, stream):
        self.copies.append(kind)
        ctypes.memmove(dst, src, n)
        return (0,)

    def cudaStreamCreate(self):
        self.streams.add(7)
        return 0, 7

    def cudaStreamDestroy(self, s):
        self.streams.discard(s)
        return (0,)

    def cudaStreamSynchronize(self, s):
        return (0,)

    def cudaEventCreate(self):
        ev = types.SimpleNamespace(t=None)
        self.events.append(ev)
        return 0, ev

    def cudaEventDestroy(self, ev):
        self.events.remove(ev)
        return (0,)

    def cudaEventRecord(self, ev, stream):
        self.tick += 0.25
        ev.t = self.tick
        return (0,)

    def cudaEventElapsedTime(self, a, b):
        return 0, b.t - a.t
