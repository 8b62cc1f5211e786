"""OpenVINO INT8: NNCF post-training quantization of a tiny FP32 YOLO export gives an IR that runs, decode float."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from exporters.calibration import ImageCalibrationReader, select_calibration_images
from exporters.openvino_int8 import (
    FLOAT_P3_FAMILIES,
    QuantizationFailed,
    ir_weights,
    keeps_p3_float,
    quantize_openvino_int8,
)
from tests.exporters.conftest import IMGSZ
from tests.exporters.synthdata import NAMES


def _needs_nncf():
    pytest.importorskip("openvino", reason="openvino is not installed (pip install 'edge-bench[openvino]')")
    return pytest.importorskip("nncf", reason="nncf is not installed (pip install 'edge-bench[openvino]')")


def _reader(data_yaml, count=6):
    return ImageCalibrationReader(select_calibration_images(data_yaml, count=count).files, imgsz=IMGSZ)


def test_float_block_rule_and_weights_name():
    assert keeps_p3_float("yolo12", float_p3=True) and not keeps_p3_float("yolo12", float_p3=False)
    assert keeps_p3_float("yolo12") == ("yolo12" in FLOAT_P3_FAMILIES)
    assert not keeps_p3_float("yolo11")
    assert ir_weights("cache/int8-openvino-320.xml").as_posix() == "cache/int8-openvino-320.bin"


def test_a_graph_without_a_detect_head_is_one_line_before_nncf_loads(tmp_path, data_yaml):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["images", "w"], ["c"]), helper.make_node("Relu", ["c"], ["out"])], "plain",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, IMGSZ, IMGSZ])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 2, IMGSZ, IMGSZ])], initializer=[w])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    with pytest.raises(InputError, match="YOLO Detect head"):
        quantize_openvino_int8(path, tmp_path / "q.xml", _reader(data_yaml))


@pytest.mark.slow
def test_nncf_int8_ir_runs_with_the_decode_left_float(fp32_artifact, data_yaml, tmp_path):
    _needs_nncf()
    import openvino as ov

    from devices.runtimes.openvino import OpenVINOSession

    out = tmp_path / "int8-openvino-64.xml"
    record = quantize_openvino_int8(fp32_artifact.path, out, _reader(data_yaml), family="yolo11")
    assert out.is_file() and ir_weights(out).is_file()
    assert record["subset_size"] == 6 and record["float_block"] is None and record["fake_quantize_ops"] > 50
    ignored = set(record["ignored_scope"])
    model = ov.Core().read_model(str(out))
    ops = {op.get_friendly_name(): op for op in model.get_ops()}
    decode_types = {ops[name].get_type_name() for name in ignored if name in ops}
    assert {"Sigmoid", "Concat"} <= decode_types  # the class sigmoid and the output concat are in the scope
    for name in ignored & set(ops):  # no quantizer in front of any decode operation
        producers = {op_input.get_source_output().get_node().get_type_name() for op_input in ops[name].inputs()}
        assert "FakeQuantize" not in producers, name
    session = OpenVINOSession(out, threads=1, precision="int8")
    assert session.int8_layers()["int8_convolutions"] > 50
    assert session.describe()["inference_precision"] == "f32"
    x = next(iter(_reader(data_yaml, 1)))["images"]
    (y,) = session.run(x)
    assert y.shape == (1, 4 + len(NAMES), (IMGSZ // 8) ** 2 + (IMGSZ // 16) ** 2 + (IMGSZ // 32) ** 2)
    assert np.isfinite(y).all() and ((y[0, 4:] >= 0) & (y[0, 4:] <= 1)).all()  # scores from a float sigmoid


@pytest.mark.slow
def test_an_nncf_failure_is_one_line_naming_nncf(fp32_artifact, data_yaml, tmp_path, monkeypatch):
    nncf = _needs_nncf()

    def broken(*args, **kwargs):
        raise RuntimeError("no statistics collected\nsecond line")

    monkeypatch.setattr(nncf, "quantize", broken)
    with pytest.raises(QuantizationFailed) as err:
        quantize_openvino_int8(fp32_artifact.path, tmp_path / "q.xml", _reader(data_yaml))
    assert str(err.value).endswith("NNCF quantization failed (RuntimeError: no statistics collected)")
    assert not (tmp_path / "q.xml").exists()
