"""Fakes for device tests: a pynvml-like module and fake /proc, /sys trees."""

from __future__ import annotations

import types
from pathlib import Path

from devices.runtimes import RuntimeStatus

DATA = Path(__file__).parent / "data" / "jetson"

ORT_CPU = RuntimeStatus("onnxruntime", True, "1.31.1", ("CPUExecutionProvider",), "importable")
ORT_CUDA = RuntimeStatus("onnxruntime", True, "1.20.0", ("CUDAExecutionProvider", "CPUExecutionProvider"), "importable")
TRT_OK = RuntimeStatus("tensorrt", True, "10.3.0", (), "importable")
TRT_MISSING = RuntimeStatus("tensorrt", False, reason="tensorrt not importable (No module named 'tensorrt')")


def data_lines(name: str) -> list[str]:
    """Lines of one shared data file (no trailing newline characters)."""
    return (DATA / name).read_text(encoding="utf-8").splitlines()


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> content) under ``root``; returns root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def cpuinfo_arm(n: int, features: str = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp asimddp") -> str:
    blocks = [
        f"processor\t: {i}\nBogoMIPS\t: 62.50\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
        f"CPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd42\nCPU revision\t: 1\n"
        for i in range(n)
    ]
    return "\n".join(blocks)


def cpuinfo_x86(n: int, model: str = "AMD Ryzen 9 7950X 16-Core Processor") -> str:
    return "\n".join(f"processor\t: {i}\nmodel name\t: {model}\nflags\t\t: fpu sse2 avx2 fma f16c avx512f avx512_vnni\n" for i in range(n))


def jetson_tree(root: Path, *, model: str | None, compatible: str | None, release: str | None,
                cores: int = 6, mem_kb: int = 7_802_308, gpu_node: bool = True, extra: dict | None = None) -> Path:
    files: dict[str, str | bytes] = {"proc/cpuinfo": cpuinfo_arm(cores), "proc/meminfo": f"MemTotal:       {mem_kb} kB\n"}
    if model is not None:
        files["proc/device-tree/model"] = model.encode() + b"\x00"
    if compatible is not None:
        files["proc/device-tree/compatible"] = compatible.encode()
    if release is not None:
        files["etc/nv_tegra_release"] = release
    if gpu_node:
        files["dev/nvgpu/igpu0"] = ""
    files.update(extra or {})
    return write_tree(root, files)


class FakeNvmlError(Exception):
    """Stands in for pynvml.NVMLError."""


class FakeNotSupported(FakeNvmlError):
    pass


def fake_nvml(*, gpus=(("NVIDIA GeForce RTX 4090", 24564 * 2**20, (8, 9)),), init_error: str | None = None,
              unsupported: tuple[str, ...] = (), values: dict | None = None) -> types.SimpleNamespace:
    """A pynvml-like module. ``unsupported`` names functions that raise NotSupported;
    ``values`` maps function names to callables (handle, *args) -> value for telemetry tests."""
    values = dict(values or {})
    state = {"init": 0, "calls": {}}

    def fn(name, default):
        def call(*args):
            state["calls"][name] = state["calls"].get(name, 0) + 1
            if name in unsupported:
                raise FakeNotSupported(f"{name}: Not Supported")
            if name in values:
                return values[name](*args)
            return default(*args)
        return call

    def init():
        if init_error:
            raise FakeNvmlError(init_error)
        state["init"] += 1

    mem = types.SimpleNamespace
    ns = types.SimpleNamespace(
        NVMLError=FakeNvmlError,
        NVMLError_NotSupported=FakeNotSupported,
        NVML_CLOCK_SM=1, NVML_CLOCK_MEM=2, NVML_TEMPERATURE_GPU=0,
        nvmlInit=init,
        nvmlShutdown=lambda: None,
        nvmlSystemGetDriverVersion=lambda: "550.54.14",
        nvmlDeviceGetCount=lambda: len(gpus),
        nvmlDeviceGetHandleByIndex=lambda i: ("handle", i),
        nvmlDeviceGetName=fn("nvmlDeviceGetName", lambda h: gpus[h[1]][0]),
        nvmlDeviceGetMemoryInfo=fn("nvmlDeviceGetMemoryInfo", lambda h: mem(total=gpus[h[1]][1], used=1024 * 2**20, free=0)),
        nvmlDeviceGetCudaComputeCapability=fn("nvmlDeviceGetCudaComputeCapability", lambda h: gpus[h[1]][2]),
        nvmlDeviceGetPowerUsage=fn("nvmlDeviceGetPowerUsage", lambda h: 150_000),
        nvmlDeviceGetTotalEnergyConsumption=fn("nvmlDeviceGetTotalEnergyConsumption", lambda h: 1_000_000),
        nvmlDeviceGetUtilizationRates=fn("nvmlDeviceGetUtilizationRates", lambda h: mem(gpu=97, memory=40)),
        nvmlDeviceGetClockInfo=fn("nvmlDeviceGetClockInfo", lambda h, kind: 2520 if kind == 1 else 10501),
        nvmlDeviceGetTemperature=fn("nvmlDeviceGetTemperature", lambda h, kind: 61),
        nvmlDeviceGetCurrentClocksThrottleReasons=fn("nvmlDeviceGetCurrentClocksThrottleReasons", lambda h: 0),
        _state=state,
    )
    return ns
