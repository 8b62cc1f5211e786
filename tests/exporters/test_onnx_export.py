"""ONNX FP32/FP16 exports: outputs match PyTorch, FP16 keeps float32 I/O, graph facts in the manifest."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from exporters.onnx_export import OPSET, graph_cost, head_decode
from tests.exporters.conftest import IMGSZ

pytestmark = pytest.mark.slow


def _inputs(data_yaml, n=3):
    from exporters.calibration import load_tensor, train_images

    _, images = train_images(data_yaml)
    return [load_tensor(p, IMGSZ) for p in images[:n]]


def _torch_outputs(pt, xs):
    import torch

    from exporters.source import load_pytorch

    model, _ = load_pytorch(pt)
    with torch.no_grad():
        return [model(torch.from_numpy(x))[0].numpy() for x in xs]


def _ort_outputs(path, xs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [session.run(None, {"images": x})[0] for x in xs]


def _xywh_iou(a, b):
    """IoU of matching rows of two (4, N) xywh box arrays."""
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_fp32_matches_pytorch(fp32_artifact, yolo11_pt, data_yaml):
    xs = _inputs(data_yaml)
    for want, got in zip(_torch_outputs(yolo11_pt, xs), _ort_outputs(fp32_artifact.path, xs)):
        assert got.shape == want.shape == (1, 4 + 2, 84)  # 8x8 + 4x4 + 2x2 anchors at 64 px
        assert np.abs(got[0, 4:] - want[0, 4:]).max() < 1e-3  # class probabilities
        assert _xywh_iou(got[0, :4], want[0, :4]).min() > 1 - 1e-3  # every anchor's box, not just the kept ones


def test_fp32_manifest(fp32_artifact, yolo11_pt):
    m = fp32_artifact.manifest
    assert m["manifest_version"] == 1 and m["onnx"]["opset"] == OPSET
    assert m["input"]["shape"] == [1, 3, IMGSZ, IMGSZ] and m["input"]["dtype"] == "float32"
    assert m["output"]["shape"] == [1, 6, 84]
    assert m["names"] == {"0": "rect", "1": "disc"}
    assert m["source"]["family"] == "yolo11" and m["source"]["file"] == yolo11_pt.name
    assert m["tools"]["ultralytics"] and m["tools"]["torch"] and m["tools"]["onnx"]
    from exporters.manifest import sha256_file

    assert m["artifact"]["sha256"] == sha256_file(fp32_artifact.path)
    assert m["artifact"]["size_bytes"] == fp32_artifact.path.stat().st_size
    # about 2.58 M parameters after BatchNorm folding; GFLOPs scale with the input area (6.4 at 640 px)
    assert 2.4e6 < m["params"] < 2.7e6
    assert 0.055 < m["gflops"] < 0.07


def test_graph_cost_counts_conv_macs():
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(8, np.float32), "b")
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])],
        [weight, bias],
    )
    cost = graph_cost(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert cost["params"] == 8 * 3 * 3 * 3 + 8
    assert cost["gflops"] == round(2 * 8 * 16 * 16 * 27 / 1e9, 4)


def test_head_decode_of_fp32(fp32_artifact):
    model = onnx.load(str(fp32_artifact.path))
    decode, convs = head_decode(model)
    by_name = {n.name: n for n in model.graph.node}
    assert len(convs) == 6  # box and class convolution of each of the 3 levels
    ops = {by_name[n].op_type for n in decode}
    assert {"Softmax", "Sigmoid", "Concat", "MatMul"} <= ops  # DFL softmax + expectation, class sigmoid, output concat
    assert not any(by_name[n].op_type == "Conv" for n in decode)  # the DFL convolution became the MatMul


def _dfl_graph(perm=(0, 2, 1, 3), axis=1, weights=None):
    """A stand-alone DFL: (1, 64, A) -> Reshape(1, 4, 16, A) -> Transpose -> Softmax -> Conv -> Reshape(1, 4, A)."""
    from onnx import TensorProto, helper, numpy_helper

    anchors = 21
    weights = np.arange(16, dtype=np.float32) if weights is None else weights
    inits = [
        numpy_helper.from_array(np.array([1, 4, 16, anchors], np.int64), "s4"),
        numpy_helper.from_array(weights.reshape(1, 16, 1, 1).astype(np.float32), "w"),
        numpy_helper.from_array(np.array([1, 4, anchors], np.int64), "s3"),
    ]
    nodes = [
        helper.make_node("Reshape", ["x", "s4"], ["r"], name="reshape"),
        helper.make_node("Transpose", ["r"], ["t"], perm=list(perm), name="transpose"),
        helper.make_node("Softmax", ["t"], ["p"], axis=axis, name="softmax"),
        helper.make_node("Conv", ["p", "w"], ["c"], name="dfl/conv"),
        helper.make_node("Reshape", ["c", "s3"], ["y"], name="out"),
    ]
    graph = helper.make_graph(
        nodes, "dfl",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, anchors])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, anchors])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what the installed onnxruntime reads (onnx's default may be newer)
    return model


def _run(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_dfl_rewrite_keeps_the_values_and_moves_softmax_to_the_last_axis():
    from exporters.onnx_export import rewrite_dfl_softmax

    x = np.random.default_rng(0).normal(0, 3, (1, 64, 21)).astype(np.float32)
    model = _dfl_graph()
    want = _run(model, x)
    assert rewrite_dfl_softmax(model) is True
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    assert "Conv" not in ops and ops.count("MatMul") == 1
    assert [a.i for n in model.graph.node if n.op_type == "Softmax" for a in n.attribute] == [-1]
    assert "w" not in {i.name for i in model.graph.initializer}  # the unused DFL kernel is dropped
    got = _run(model, x)
    assert got.shape == want.shape == (1, 4, 21)
    assert np.abs(got - want).max() < 1e-5
    # expected distances lie in [0, 15] whatever the logits
    assert got.min() >= 0 and got.max() <= 15


@pytest.mark.parametrize(
    "kwargs",
    [{"perm": (0, 1, 2, 3)}, {"axis": -1}, {"weights": np.ones(16, np.float32)}],
    ids=["other-transpose", "softmax-already-last", "not-the-dfl-kernel"],
)
def test_dfl_rewrite_leaves_other_graphs_alone(kwargs):
    from exporters.onnx_export import rewrite_dfl_softmax

    model = _dfl_graph(**kwargs)
    before = model.SerializeToString()
    assert rewrite_dfl_softmax(model) is False
    assert model.SerializeToString() == before


def test_fp32_manifest_records_the_rewrite(fp32_artifact):
    assert fp32_artifact.manifest["onnx"]["rewrites"] == ["dfl-softmax-last-axis"]
    assert fp32_artifact.manifest["key_inputs"]["rewrites"] == ["dfl-softmax-last-axis"]


def test_fp16_keeps_float32_io_and_agrees(fp32_artifact, yolo11_pt, session_cache, data_yaml):
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    art = build_variant(yolo11_pt, parse_variant("fp16"), cache_dir=session_cache, imgsz=IMGSZ)
    session = ort.InferenceSession(str(art.path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(float)" and session.get_outputs()[0].type == "tensor(float)"
    weights = [i for i in onnx.load(str(art.path)).graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert weights, "FP16 model has float16 weights"
    assert art.manifest["parent"]["sha256"] == fp32_artifact.manifest["artifact"]["sha256"]
    assert art.manifest["params"] == fp32_artifact.manifest["params"]
    xs = _inputs(data_yaml)
    for ref, got in zip(_ort_outputs(fp32_artifact.path, xs), _ort_outputs(art.path, xs)):
        assert np.abs(got[0, 4:] - ref[0, 4:]).max() < 1e-2
        assert _xywh_iou(got[0, :4], ref[0, :4]).min() > 0.99
    assert art.path.stat().st_size < 0.6 * fp32_artifact.path.stat().st_size
