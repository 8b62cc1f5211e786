"""A stand-in for the ``tensorrt`` module that records what the builder was asked to do.

It mirrors the small part of the TensorRT 8.6 / 10.x Python API that ``exporters.tensorrt_build``
uses, so tests check the calls (flags, pools, DLA, timing cache) without a GPU.
"""

from __future__ import annotations

import enum
import types


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


class TensorIOMode(enum.Enum):
    INPUT = 1
    OUTPUT = 2


class DataType(enum.Enum):
    FLOAT = 0


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


class Engine:
    num_io_tensors = 2

    def get_tensor_name(self, i):
        return ["images", "output0"][i]

    def get_tensor_mode(self, name):
        return TensorIOMode.INPUT if name == "images" else TensorIOMode.OUTPUT

    def get_tensor_shape(self, name):
        return (1, 3, 64, 64) if name == "images" else (1, 6, 84)

    def get_tensor_dtype(self, name):
        return DataType.FLOAT


class Runtime:
    def __init__(self, logger):
        pass

    def deserialize_cuda_engine(self, blob):
        return Engine() if blob.startswith(b"ENGINE") else None


def make_fake_trt(version: str = "10.3.0", *, fail_build: bool = False, dla_cores: int = 0):
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
            return b"ENGINE:" + network.parsed[:16]

    module = types.SimpleNamespace(
        __version__=version, ILogger=ILogger, Builder=Builder, OnnxParser=Parser, Runtime=Runtime,
        BuilderFlag=BuilderFlag, MemoryPoolType=MemoryPoolType, DeviceType=DeviceType,
        NetworkDefinitionCreationFlag=NetworkDefinitionCreationFlag, TensorIOMode=TensorIOMode, calls=calls,
    )
    if version.startswith("8."):
        class IInt8EntropyCalibrator2:  # present up to TensorRT 10.x (deprecated there)
            def __init__(self):
                pass

        module.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    return module
