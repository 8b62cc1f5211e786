"""INT8: QDQ everywhere except the Detect head decode, calibrated on train images only."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from exporters.calibration import ImageCalibrationReader, select_calibration_images, train_images
from exporters.int8 import int8_settings
from exporters.manifest import cache_key
from exporters.onnx_export import head_decode
from common.errors import InputError
from tests.exporters.conftest import IMGSZ

QDQ = ("QuantizeLinear", "DequantizeLinear")


def _decode_qdq(model):
    """Q/DQ nodes inside the decode, other than the output quantization of the head convolutions."""
    decode, convs = head_decode(model)
    nodes = {n.name: n for n in model.graph.node}
    producer = {out: n for n in model.graph.node for out in n.output}
    bad = []
    for name in decode:
        node = nodes[name]
        if node.op_type not in QDQ:
            continue
        source = producer.get(node.input[0])
        if node.op_type == "DequantizeLinear" and source is not None and source.op_type == "QuantizeLinear":
            source = producer.get(source.input[0])
        if source is None or source.name not in convs:
            bad.append(name)
    return bad, decode, nodes


@pytest.mark.slow
def test_int8_has_qdq_but_not_in_the_decode(int8_artifact):
    model = onnx.load(str(int8_artifact.path))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 50 and ops.count("DequantizeLinear") > 50
    bad, decode, nodes = _decode_qdq(model)
    assert bad == []
    # the decode itself (DFL softmax + expectation, class sigmoid, box arithmetic) is still float and present
    assert {"Softmax", "Sigmoid", "MatMul", "Concat"} <= {nodes[n].op_type for n in decode}
    session = ort.InferenceSession(str(int8_artifact.path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"images": np.full((1, 3, IMGSZ, IMGSZ), 0.5, np.float32)})[0]
    assert out.shape == (1, 6, 84) and np.isfinite(out).all()
    assert ((out[0, 4:] >= 0) & (out[0, 4:] <= 1)).all()  # class scores went through the float sigmoid


@pytest.mark.slow
def test_int8_manifest_records_calibration_from_train_only(int8_artifact, data_yaml):
    q = int8_artifact.manifest["quantization"]
    assert (q["format"], q["activation_type"], q["weight_type"], q["per_channel"]) == ("QDQ", "QUInt8", "QInt8", True)
    calib = q["calibration"]
    assert calib["split"] == "train" and calib["image_count"] == 6 and calib["available"] == 10
    assert all(name.startswith("images/train/") for name in calib["images"])
    from harness.pipeline.preprocess import PREPROCESS_VERSION

    assert calib["preprocess_version"] == PREPROCESS_VERSION and q["method"] == "percentile"  # the default requested
    assert int8_artifact.manifest["key_inputs"]["preprocess_version"] == PREPROCESS_VERSION
    # random weights leave near-constant tensors that numpy cannot histogram: min/max, recorded as such
    assert q["method_used"] == calib["method"] == "minmax" and "near-constant" in q["fallback"]
    assert len(q["head_convs"]) == 6 and q["excluded_nodes"]


def test_settings_validation():
    assert int8_settings(method="Entropy").method == "entropy"
    with pytest.raises(InputError, match="--calib-method: expected a calibration method"):
        int8_settings(method="kl")
    with pytest.raises(InputError, match="--calib-images: expected a calibration image count >= 1, got 0"):
        int8_settings(calib_images=0)
    with pytest.raises(InputError, match="expected an INT8 profile"):
        int8_settings(profile="gpu")


def test_calibration_selection(data_yaml, tmp_path):
    root, images = train_images(data_yaml)
    assert len(images) == 10 and all("/train/" in p.as_posix() for p in images)
    calib = select_calibration_images(data_yaml, count=4)
    assert [p.name for p in calib.files] == ["train000.jpg", "train002.jpg", "train005.jpg", "train007.jpg"]
    assert calib.digest == select_calibration_images(data_yaml, count=4).digest
    assert calib.digest != select_calibration_images(data_yaml, count=5).digest
    assert len(select_calibration_images(data_yaml, count=500).files) == 10
    reader = ImageCalibrationReader(calib.files, imgsz=IMGSZ)
    batches = list(reader)
    assert len(batches) == 4 and batches[0]["images"].shape == (1, 3, IMGSZ, IMGSZ)
    assert batches[0]["images"].dtype == np.float32 and 0 <= batches[0]["images"].min() <= batches[0]["images"].max() <= 1
    reader.rewind()
    reader.set_range(2, 4)
    assert len(list(reader)) == 2


def test_calibration_errors(tmp_path):
    with pytest.raises(InputError, match="expected an existing dataset YAML, got no such file"):
        select_calibration_images(tmp_path / "none.yaml", count=3)
    yaml_path = tmp_path / "data.yaml"
    yaml_path.write_text("val: images/val\n")
    with pytest.raises(InputError, match="expected a 'train' entry, got none"):
        select_calibration_images(yaml_path, count=3)
    (tmp_path / "images" / "train").mkdir(parents=True)
    yaml_path.write_text(f"path: {tmp_path}\ntrain: images/train\n")
    with pytest.raises(InputError, match="expected at least one train image, got none"):
        select_calibration_images(yaml_path, count=3)
    (tmp_path / "images" / "train" / "broken.jpg").write_bytes(b"not an image")
    reader = ImageCalibrationReader(select_calibration_images(yaml_path, count=3).files, imgsz=IMGSZ)
    with pytest.raises(InputError, match=r"broken\.jpg: expected a readable image"):
        reader.get_next()


@pytest.mark.slow
def test_stride8_neck_block_is_found_from_the_head(fp32_artifact):
    from exporters.int8 import p3_neck_block

    prefix, nodes = p3_neck_block(onnx.load(str(fp32_artifact.path)))
    assert prefix == "/model.16/"  # YOLO11's last neck block of the P3/8 level feeds Detect's cv2.0
    assert nodes and all(name.startswith("/model.16/") for name in nodes)


def test_stride8_neck_block_of_an_unnamed_graph_is_none():
    from onnx import TensorProto, helper

    from exporters.int8 import p3_neck_block

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    assert p3_neck_block(helper.make_model(graph)) == (None, [])


@pytest.mark.slow
def test_yolo12_keeps_its_stride8_neck_block_float_yolo11_does_not(int8_artifact, yolo12_pt, session_cache, data_yaml):
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    assert int8_artifact.manifest["quantization"]["float_block"] is None  # YOLO11: every block quantized
    art = build_variant(yolo12_pt, parse_variant("int8"), cache_dir=session_cache, imgsz=IMGSZ,
                        data_yaml=data_yaml, calib_images=6)
    block = art.manifest["quantization"]["float_block"]
    assert block["block"] == "/model.14/" and block["nodes"] > 0
    assert art.manifest["key_inputs"]["float_p3_block"] is True
    model = onnx.load(str(art.path))
    producer = {out: n for n in model.graph.node for out in n.output}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    in_block = [n for n in convs if n.name.startswith("/model.14/")]
    elsewhere = [n for n in convs if not n.name.startswith("/model.14/")]
    assert in_block and elsewhere

    def quantized(node):
        weight = producer.get(node.input[1])
        return weight is not None and weight.op_type == "DequantizeLinear"

    assert not any(quantized(n) for n in in_block)  # float weights in the block
    assert sum(quantized(n) for n in elsewhere) > 0.8 * len(elsewhere)  # the rest stays INT8


def test_int8_cache_key_follows_the_preprocessing_version(monkeypatch):
    """Bumping PREPROCESS_VERSION (the letterbox changed) changes the INT8 cache key: calibrated artifacts rebuild."""
    from types import SimpleNamespace

    from exporters.kinds.int8 import int8_cache_key
    from harness.pipeline import preprocess

    stage = SimpleNamespace(imgsz=64, src=SimpleNamespace(family="yolo11"))
    fp32 = SimpleNamespace(manifest={"artifact": {"sha256": "ab" * 32}})
    settings, calib = int8_settings(), SimpleNamespace(digest="cd" * 32)
    before = int8_cache_key(stage, fp32, settings, calib)
    assert before["preprocess_version"] == preprocess.PREPROCESS_VERSION
    monkeypatch.setattr(preprocess, "PREPROCESS_VERSION", preprocess.PREPROCESS_VERSION + 1)
    after = int8_cache_key(stage, fp32, settings, calib)
    assert cache_key(after) != cache_key(before)
    assert {k for k in after if after[k] != before[k]} == {"preprocess_version"}
