"""The ONNX Runtime session end to end on tiny ONNX models built with onnx.helper (no torch)."""

from __future__ import annotations

import numpy as np
import pytest

from devices.profiles import load_profile
from devices.runtimes import open_runtime, probe_runtimes
from devices.runtimes.onnxrt import choose_providers
from common.errors import InputError, MissingDependency

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

W = np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) / 50.0


def tiny_model(path, *, dtype=TensorProto.FLOAT, batch="N"):
    """images[batch,3,8,8] -> Conv(2 filters, pad 1) -> Sigmoid -> out [batch,2,8,8], plus a ReduceMean output."""
    np_dtype = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    inp = helper.make_tensor_value_info("images", dtype, [batch, 3, 8, 8])
    out = helper.make_tensor_value_info("out", dtype, [batch, 2, 8, 8])
    mean = helper.make_tensor_value_info("mean", dtype, [batch, 1, 1, 1])
    w = numpy_helper.from_array(W.astype(np_dtype), "w")
    nodes = [
        helper.make_node("Conv", ["images", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c"], ["out"]),
        helper.make_node("ReduceMean", ["out"], ["mean"], axes=[1, 2, 3], keepdims=1),
    ]
    graph = helper.make_graph(nodes, "tiny", [inp], [out, mean], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def reference(x):
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((x.shape[0], 2, 8, 8))
    for k in range(2):
        for i in range(8):
            for j in range(8):
                out[:, k, i, j] = (xp[:, :, i:i + 3, j:j + 3] * W[k]).sum(axis=(1, 2, 3))
    s = 1 / (1 + np.exp(-out))
    return s, s.mean(axis=(1, 2, 3), keepdims=True)


def test_cpu_runtime_end_to_end(tmp_path):
    path = tiny_model(tmp_path / "tiny.onnx")
    s = open_runtime(path, runtime="onnxruntime", profile=load_profile("cpu"), threads=1)
    assert (s.input_name, s.input_shape, s.input_dtype) == ("images", (None, 3, 8, 8), np.float32)
    x = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
    out, mean = s.run(x)
    ref_out, ref_mean = reference(x)
    np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-5, atol=1e-6)
    d = s.describe()
    assert d["runtime"] == "onnxruntime" and d["version"] == probe_runtimes()["onnxruntime"].version
    assert d["providers"] == ["CPUExecutionProvider"] and d["intra_op_threads"] == 1 and d["io_binding"] is False
    assert s.last_split_ms is None
    # same answer through IO binding, and with ONNX Runtime's default threads
    b = open_runtime(path, runtime="onnxruntime", profile=load_profile("cpu"))
    assert "default" in b.describe()["intra_op_threads"]
    from devices.runtimes.onnxrt import OrtSession
    bound = OrtSession(path, profile=load_profile("cpu"), io_binding=True)
    np.testing.assert_allclose(bound.run(x)[0], out, rtol=1e-6)
    s.close()


def test_fp16_model_needs_fp16_input(tmp_path):
    path = tiny_model(tmp_path / "tiny16.onnx", dtype=TensorProto.FLOAT16, batch=1)
    s = open_runtime(path, runtime="onnxruntime", profile=load_profile("cpu"))
    assert s.input_dtype == np.float16 and s.input_shape == (1, 3, 8, 8)
    x = np.random.default_rng(1).random((1, 3, 8, 8)).astype(np.float16)
    out, _ = s.run(x)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32), reference(x.astype(np.float32))[0], atol=3e-3)
    with pytest.raises(InputError, match=r"tiny16.onnx input images: expected input dtype float16, got float32"):
        s.run(x.astype(np.float32))
    with pytest.raises(InputError, match=r"expected input shape \(1, 3, 8, 8\), got \(2, 3, 8, 8\)"):
        s.run(np.zeros((2, 3, 8, 8), np.float16))


def test_jetson_profile_without_gpu_providers_uses_cpu_entry(tmp_path):
    assert choose_providers(load_profile("jetson-orin-nx"), ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers(load_profile("desktop-gpu"), ["CUDAExecutionProvider", "CPUExecutionProvider"]) == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    from devices.runtimes import RuntimeFailure
    with pytest.raises(RuntimeFailure, match="desktop-gpu: none of its ONNX Runtime providers is available"):
        choose_providers(load_profile("desktop-gpu"), ["CPUExecutionProvider"])
    with pytest.raises(InputError, match="providers: expected providers available here"):
        choose_providers(load_profile("cpu"), ["CPUExecutionProvider"], ["CUDAExecutionProvider"])


def test_bad_artifacts_are_one_line_input_errors(tmp_path):
    cpu = load_profile("cpu")
    with pytest.raises(InputError, match="expected an existing model artifact, got no such file"):
        open_runtime(tmp_path / "missing.onnx", runtime="onnxruntime", profile=cpu)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf")
    with pytest.raises(InputError, match=r"garbage.onnx: expected an ONNX model ONNX Runtime can load, got .*INVALID_PROTOBUF"):
        open_runtime(garbage, runtime="onnxruntime", profile=cpu)
    other = tmp_path / "model.tflite"
    other.write_bytes(b"x")
    with pytest.raises(InputError, match=r"model.tflite: expected an artifact onnxruntime opens \(.onnx\), got .tflite"):
        open_runtime(other, runtime="onnxruntime", profile=cpu)
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    with pytest.raises(InputError, match=r"expected an artifact onnxruntime opens \(.onnx\), got .engine"):
        open_runtime(engine, runtime="onnxruntime", profile=cpu)
    with pytest.raises(InputError, match=r"expected a runtime listed by profile cpu \(openvino, onnxruntime\), got tensorrt"):
        open_runtime(engine, runtime="tensorrt", profile=cpu)
    with pytest.raises(InputError, match=r"runtime: expected a runtime, one of .*onnxruntime.*, got 'tflite'"):
        open_runtime(engine, runtime="tflite", profile=cpu)
    with pytest.raises(InputError, match=r"providers: expected no providers for tensorrt"):
        open_runtime(engine, runtime="tensorrt", profile=load_profile("desktop-gpu"), providers=["CPUExecutionProvider"])
    with pytest.raises(InputError, match="expected a thread count >= 1"):
        open_runtime(tiny_model(tmp_path / "t.onnx"), runtime="onnxruntime", profile=cpu, threads=0)


def test_engine_without_tensorrt_installed_says_what_to_install(tmp_path):
    if probe_runtimes()["tensorrt"].available:
        pytest.skip("TensorRT is installed here")
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    with pytest.raises(MissingDependency, match=r"tensorrt is not importable .*edge-bench\[tensorrt\]"):
        open_runtime(engine, runtime="tensorrt", profile=load_profile("desktop-gpu"))
