"""The OpenVINO session on tiny ONNX models built with onnx.helper: fixed f32 precision, describe(), errors."""

from __future__ import annotations

import sys
from dataclasses import replace
from importlib import metadata

import numpy as np
import pytest

from common.errors import InputError, MissingDependency
from devices.profiles import RuntimeChoice, load_profile
from devices.runtimes import REGISTRY, RuntimeFailure, open_runtime, runtime_info
from devices.runtimes import openvino as ovrt
from tests.devices.test_runtime_ort import reference, tiny_model

onnx = pytest.importorskip("onnx", reason="onnx builds the tiny models (pip install 'edge-bench[export]')")


def _cpu_with_openvino():
    """The cpu profile with an OpenVINO entry first (whatever the shipped profile's order is)."""
    cpu = load_profile("cpu")
    return replace(cpu, runtimes=(RuntimeChoice("openvino", ()),) + tuple(r for r in cpu.runtimes if r.runtime != "openvino"))


def _needs_openvino():
    return pytest.importorskip("openvino", reason="openvino is not installed (pip install 'edge-bench[openvino]')")


class _CoreWithout:
    """A real openvino.Core whose CPU reports no native BF16/FP16 (a CPU without AMX/AVX512-BF16)."""

    def __init__(self, core):
        self._core = core

    def get_property(self, device, name):
        if name == "OPTIMIZATION_CAPABILITIES":
            return ["FP32", "INT8"]
        return self._core.get_property(device, name)

    def __getattr__(self, name):
        return getattr(self._core, name)


def test_registered_as_a_cpu_runtime_that_opens_ir_and_onnx():
    info = runtime_info("openvino")
    assert list(REGISTRY).count("openvino") == 1
    assert info.opens("m.xml") and info.opens("m.onnx") and not info.opens("m.engine")
    assert info.cpu_only and not info.takes_providers and info.build_format == "openvino"


def test_opens_an_onnx_made_on_the_fly_in_f32(tmp_path):
    _needs_openvino()
    path = tiny_model(tmp_path / "tiny.onnx")
    session = ovrt.OpenVINOSession(path, threads=1)
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    out, mean = session.run(x)
    want, want_mean = reference(x)
    # f32 inference: bf16 (OpenVINO's own default on CPUs with BF16) would miss this by ~1e-3
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-5, atol=1e-6)
    assert session.input_name == "images" and session.input_shape == (None, 3, 8, 8)
    assert session.input_dtype == np.float32 and session.output_names == ["out", "mean"]
    session.close()


@pytest.mark.parametrize("precision", ["fp32", None])
def test_precision_is_f32_when_asked_even_where_openvino_would_pick_bf16(tmp_path, precision):
    _needs_openvino()
    session = ovrt.OpenVINOSession(tiny_model(tmp_path / "tiny.onnx"), threads=1, precision=precision)
    compiled = str(session._compiled.get_property("INFERENCE_PRECISION_HINT"))
    assert "float32" in compiled or compiled == "f32"
    assert (session.describe()["precision"], session.describe()["inference_precision"]) == ("fp32", "f32")


def test_an_int8_row_needs_a_quantized_model(tmp_path):
    _needs_openvino()
    with pytest.raises(InputError, match="a quantized \\(INT8\\) model for an int8 row, got a float model"):
        ovrt.OpenVINOSession(tiny_model(tmp_path / "tiny.onnx"), precision="int8")


def test_describe_names_runtime_version_precision_threads(tmp_path):
    _needs_openvino()
    path = tiny_model(tmp_path / "tiny.onnx")
    d = open_runtime(path, runtime="openvino", profile=_cpu_with_openvino(), threads=2).describe()
    assert d["runtime"] == "openvino" and d["version"] == metadata.version("openvino")
    assert (d["precision"], d["inference_precision"]) == ("fp32", "f32")
    assert (d["threads"], d["threads_used"], d["streams"], d["performance_hint"]) == (2, 2, 1, "LATENCY")
    assert d["input"] == {"name": "images", "shape": [None, 3, 8, 8], "dtype": "float32"}
    assert d["artifact"] == str(path)
    default = ovrt.OpenVINOSession(path).describe()
    assert default["threads"].startswith("default (OpenVINO: ") and default["threads_used"] >= 1


def test_probe_records_the_version_and_capabilities():
    _needs_openvino()
    status = ovrt.probe()
    assert status.available and status.version == metadata.version("openvino")
    assert "FP32" in status.reason and status.providers == ("CPU",)
    assert "FP32" in status.capabilities and status.to_dict()["capabilities"] == list(status.capabilities)
    assert status.capabilities == ovrt.cpu_capabilities()  # the probe the bf16 rule reads, once per run


def test_bf16_without_native_support_is_refused_not_emulated(tmp_path):
    ov = _needs_openvino()
    path = tiny_model(tmp_path / "tiny.onnx")
    with pytest.raises(RuntimeFailure, match="no native BF16"):
        ovrt.OpenVINOSession(path, precision="bf16", core=_CoreWithout(ov.Core()))


def test_bad_inputs_are_one_line_errors(tmp_path):
    _needs_openvino()
    path = tiny_model(tmp_path / "tiny.onnx")
    with pytest.raises(InputError, match="precision OpenVINO runs"):
        ovrt.OpenVINOSession(path, precision="int4")
    with pytest.raises(InputError, match="thread count"):
        ovrt.OpenVINOSession(path, threads=0)
    broken = tmp_path / "broken.xml"
    broken.write_text("<net>not a model")
    with pytest.raises(InputError, match="OpenVINO can read"):
        ovrt.OpenVINOSession(broken)
    session = ovrt.OpenVINOSession(path, threads=1)
    with pytest.raises(InputError, match="input shape"):
        session.run(np.zeros((1, 3, 9, 8), np.float32))
    with pytest.raises(InputError, match="input dtype"):
        session.run(np.zeros((1, 3, 8, 8), np.float64))


def test_without_openvino_asking_for_it_names_the_pip_extra(tmp_path, monkeypatch):
    path = tiny_model(tmp_path / "tiny.onnx")
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(MissingDependency) as err:
        open_runtime(path, runtime="openvino", profile=_cpu_with_openvino())
    message = str(err.value)
    assert "\n" not in message and "pip install 'edge-bench[openvino]'" in message
    status = ovrt.probe()
    assert not status.available and "edge-bench[openvino]" in status.reason


def _hardware(openvino: bool):
    from devices.detect import detect_hardware
    from devices.runtimes.base import RuntimeStatus

    ov = (RuntimeStatus("openvino", True, "2026.4.1", ("CPU",), "importable") if openvino else
          RuntimeStatus("openvino", False, reason="openvino not importable (No module named 'openvino'); install it "
                                                  "with: pip install 'edge-bench[openvino]'"))
    ort = RuntimeStatus("onnxruntime", True, "1.32.0", ("CPUExecutionProvider",), "importable")
    return detect_hardware(root="/nonexistent", machine="x86_64", runtimes={"openvino": ov, "onnxruntime": ort})


def test_cpu_profile_prefers_openvino_where_installed_and_runtime_overrides():
    from devices.resolve import resolve_device

    assert resolve_device("cpu", hardware=_hardware(True)).runtime.runtime == "openvino"
    assert resolve_device("cpu", hardware=_hardware(False)).runtime.runtime == "onnxruntime"
    assert resolve_device("cpu", runtime="onnxruntime", hardware=_hardware(True)).runtime.runtime == "onnxruntime"
    with pytest.raises(InputError) as err:
        resolve_device("cpu", runtime="openvino", hardware=_hardware(False))
    assert "\n" not in str(err.value) and "pip install 'edge-bench[openvino]'" in str(err.value)


def test_rows_name_plus_runtime_run_the_variant_on_that_runtime_in_one_run():
    from pathlib import Path

    from devices.resolve import resolve_device
    from harness.options import RunOptions
    from harness.plan import ModelChoice, ScoredData, make_task, plan_variants

    device = resolve_device("cpu", hardware=_hardware(True))
    model = ModelChoice(path=Path("m.pt"), kind="pt", name="m", family="yolo11", imgsz=320, names=("a",),
                        sha256="0" * 64, reference=None)
    plan = plan_variants(RunOptions(variants="int8, int8+onnxruntime, fp32+onnxruntime"), model, device)
    assert [(r.name, r.spec.name, r.spec.fmt) for r in plan] == [
        ("fp32", "fp32", "openvino"), ("int8", "int8", "openvino"),
        ("int8+onnxruntime", "int8", "onnx"), ("fp32+onnxruntime", "fp32", "onnx")]
    data = ScoredData("images", "val", ("/d/a.jpg",), None, 1, None, ("a",), None, None)
    jobs = {r.name: make_task(RunOptions(), model, data, device, r) for r in plan}
    assert {name: (build.variant, build.format, job.runtime) for name, (build, job, _) in jobs.items()} == {
        "fp32": ("fp32", "openvino", "openvino"), "int8": ("int8", "openvino", "openvino"),
        "int8+onnxruntime": ("int8", "onnx", "onnxruntime"), "fp32+onnxruntime": ("fp32", "onnx", "onnxruntime")}
    assert jobs["int8+onnxruntime"][1].variant == "int8+onnxruntime"
    with pytest.raises(InputError, match="--variants: expected a runtime, one of"):
        plan_variants(RunOptions(variants="int8+tflite"), model, device)
