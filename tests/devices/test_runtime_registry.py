"""The runtime registry: one table of names; probe, open and --runtime go through it; `bench devices` fits 80 columns."""

from __future__ import annotations

import importlib
import io
import types
from pathlib import Path

import numpy as np
import pytest

import devices.runtimes as runtimes
from common.errors import InputError
from devices.detect import detect_hardware
from devices.profiles import RuntimeChoice, list_profiles, load_profile
from devices.resolve import resolve_device
from devices.runtimes import REGISTRY, RuntimeInfo, RuntimeStatus, open_runtime, probe_runtimes, runtime_info
from tests.devices.fakes import ORT_CPU, ORT_CUDA, TRT_MISSING, TRT_OK, fake_nvml


def test_every_registered_runtime_module_probes_and_opens_by_its_name():
    statuses = probe_runtimes()
    assert list(statuses) == list(REGISTRY)
    for name, info in REGISTRY.items():
        module = importlib.import_module(info.module)
        assert callable(module.probe) and callable(module.open_session)
        assert statuses[name].name == name and isinstance(statuses[name], RuntimeStatus)
        assert info.formats and all(s.startswith(".") for s in info.formats)
        assert statuses[name].available or statuses[name].reason  # unavailable always says why


def test_profiles_name_only_registered_runtimes():
    for name in list_profiles():
        for entry in load_profile(name).runtimes:
            info = runtime_info(entry.runtime)
            assert bool(entry.providers) == info.takes_providers, (name, entry)


def test_a_profile_with_an_unregistered_runtime_is_one_line(tmp_path):
    text = Path(load_profile("cpu").source).read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("name: cpu", "name: bad").replace("runtime: onnxruntime", "runtime: tflite"))
    with pytest.raises(InputError, match=r"bad.yaml key 'runtimes\[1\].runtime': expected a runtime, one of .*onnxruntime.*, got 'tflite'"):
        load_profile(str(bad))


class _FakeSession:
    def __init__(self, path, threads):
        self.path, self.threads = path, threads
        self.input_name, self.input_shape, self.input_dtype = "images", (1, 3, 8, 8), np.dtype(np.float32)
        self.last_split_ms = None

    def run(self, x):
        return [x * 2]

    def describe(self):
        return {"runtime": "fakert", "threads": self.threads}

    def close(self):
        pass


@pytest.fixture()
def fakert(monkeypatch):
    """A runtime added the documented way: a module with probe/open_session and one registry entry."""
    module = types.ModuleType("tests_fake_runtime")
    module.probe = lambda: RuntimeStatus("fakert", True, "0.1", (), "importable")
    module.open_session = lambda path, *, profile, threads, providers: _FakeSession(path, threads)
    monkeypatch.setitem(__import__("sys").modules, "tests_fake_runtime", module)
    info = RuntimeInfo("fakert", "tests_fake_runtime", formats=(".onnx", ".fake"), build_format="onnx", cpu_only=True)
    monkeypatch.setattr(runtimes, "REGISTRY", types.MappingProxyType({**REGISTRY, "fakert": info}))
    return info


def test_a_new_runtime_is_one_module_and_one_registry_line(fakert, tmp_path):
    assert probe_runtimes()["fakert"].version == "0.1"
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not read by the fake")
    profile = types.SimpleNamespace(name="both", runtimes=(RuntimeChoice("onnxruntime", ("CPUExecutionProvider",)),
                                                           RuntimeChoice("fakert")))
    # the same .onnx opens in the runtime NAMED, not the one its suffix would suggest
    session = open_runtime(model, runtime="fakert", profile=profile, threads=3)
    assert isinstance(session, _FakeSession) and session.describe() == {"runtime": "fakert", "threads": 3}
    assert fakert.is_cpu(RuntimeChoice("fakert"))
    cpu_only = types.SimpleNamespace(name="cpu", runtimes=(RuntimeChoice("onnxruntime", ("CPUExecutionProvider",)),))
    with pytest.raises(InputError, match=r"expected a runtime listed by profile cpu \(onnxruntime\), got fakert"):
        open_runtime(model, runtime="fakert", profile=cpu_only)


def test_runtime_override_resolves_that_runtime_or_says_why(tmp_path):
    hw = detect_hardware(root=tmp_path, machine="x86_64", runtimes={"onnxruntime": ORT_CPU, "tensorrt": TRT_MISSING})
    assert resolve_device("cpu", runtime="onnxruntime", hardware=hw).runtime.runtime == "onnxruntime"
    with pytest.raises(InputError, match=r"--runtime: expected a runtime profile cpu lists \(.*onnxruntime.*\), got 'tensorrt'"):
        resolve_device("cpu", runtime="tensorrt", hardware=hw)
    with pytest.raises(InputError, match=r"--runtime: expected a runtime, one of .*, got 'tflite'"):
        resolve_device("cpu", runtime="tflite", hardware=hw)


def test_cpu_fallback_is_decided_by_the_registry(tmp_path):
    hw = detect_hardware(root=tmp_path, machine="x86_64", runtimes={"onnxruntime": ORT_CPU, "tensorrt": TRT_MISSING})
    d = resolve_device("cpu", hardware=hw)
    assert d.cpu_only and d.runtime == RuntimeChoice("onnxruntime", ("CPUExecutionProvider",))
    assert not runtime_info("tensorrt").is_cpu(RuntimeChoice("tensorrt"))


def test_the_runtime_for_a_format_is_the_chosen_one_or_the_profile_entry_that_loads_it(tmp_path):
    hw = detect_hardware(root=tmp_path, machine="x86_64", nvml=fake_nvml(),
                         runtimes={"onnxruntime": ORT_CUDA, "tensorrt": TRT_OK})
    gpu = resolve_device("desktop-gpu", hardware=hw)
    assert gpu.runtime.runtime == "tensorrt" and gpu.runtime_for("trt") is gpu.runtime
    # --format onnx on a TensorRT device: ONNX Runtime with the profile's first available providers
    assert gpu.runtime_for("onnx") == RuntimeChoice("onnxruntime", ("CUDAExecutionProvider", "CPUExecutionProvider"))
    cpu = resolve_device("cpu", hardware=hw)
    with pytest.raises(InputError, match=r"--format: expected a format the runtimes of cpu available here load \(onnx\), got 'trt'"):
        cpu.runtime_for("trt")


def _table(width: int) -> list[str]:
    from devices.cli import _render, collect

    buf = io.StringIO()
    _render(collect("/"), file=buf, width=width)
    return buf.getvalue().splitlines()


def test_bench_devices_fits_80_columns_and_uses_a_wider_console():
    narrow = _table(80)
    assert max(len(line) for line in narrow) <= 80
    assert any(line.startswith("cpu ") for line in narrow) and not any("telemetry  " in line for line in narrow)
    wide = _table(140)
    header = next(line for line in wide if line.startswith("profile"))
    assert "telemetry" in header and max(len(line) for line in wide) > 80
