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
    assert {"Softmax", "Sigmoid", "Concat"} <= ops  # DFL softmax, class sigmoid, output concat
    assert sum(by_name[n].op_type == "Conv" for n in decode) == 1  # the fixed DFL convolution


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
