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
    assert not keeps_p3_float("yolo11") and not keeps_p3_float("yolo12")  # measured: it pays for neither here
    assert keeps_p3_float("yolo12") == ("yolo12" in FLOAT_P3_FAMILIES) and not keeps_p3_float(None)
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


@pytest.fixture(scope="module")
def ov_int8(yolo11_pt, session_cache, data_yaml):
    """The tiny YOLO11's OpenVINO INT8, built through build_variant (NNCF, 6 calibration images)."""
    _needs_nncf()
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    return build_variant(yolo11_pt, parse_variant("int8", fmt="openvino"), cache_dir=session_cache, imgsz=IMGSZ,
                         data_yaml=data_yaml, calib_images=6)


@pytest.mark.slow
def test_nncf_int8_ir_runs_with_the_decode_left_float(ov_int8, data_yaml):
    import openvino as ov

    from devices.runtimes.openvino import OpenVINOSession

    out = ov_int8.path
    record = ov_int8.manifest["quantization"]
    assert out.is_file() and ir_weights(out).is_file()
    assert record["subset_size"] == 6 and record["fake_quantize_ops"] > 50
    assert record["float_block"] is None  # the stride-8 block stays quantized under OpenVINO (FLOAT_P3_FAMILIES)
    ignored = set(record["ignored_scope"])
    model = ov.Core().read_model(str(out))
    ops = {op.get_friendly_name(): op for op in model.get_ops()}
    decode_types = {ops[name].get_type_name() for name in ignored if name in ops}
    assert {"Sigmoid", "Concat"} <= decode_types  # the class sigmoid and the output concat are in the scope
    for name in ignored & set(ops):  # no quantizer in front of any decode operation
        producers = {op_input.get_source_output().get_node().get_type_name() for op_input in ops[name].inputs()}
        assert "FakeQuantize" not in producers, name
    session = OpenVINOSession(out, threads=1)  # a quantized IR: int8, at f32 for what stays float
    assert session.int8_layers()["int8_convolutions"] > 50
    assert (session.describe()["precision"], session.describe()["inference_precision"]) == ("int8", "f32")
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


@pytest.mark.slow
def test_openvino_int8_is_built_once_cached_and_manifested(ov_int8, yolo11_pt, session_cache, data_yaml):
    from exporters.build import build_variant
    from exporters.manifest import sha256_file
    from exporters.spec import parse_variant

    spec = parse_variant("int8", fmt="openvino")
    m = ov_int8.manifest
    assert ov_int8.path.name == f"int8-openvino-{IMGSZ}.xml"
    assert m["weights"] == {"file": f"int8-openvino-{IMGSZ}.bin", "sha256": sha256_file(ir_weights(ov_int8.path)),
                            "size_bytes": ir_weights(ov_int8.path).stat().st_size}
    q = m["quantization"]
    assert q["calibration"]["split"] == "train" and q["calibration"]["image_count"] == 6
    assert m["parent"]["file"] == f"fp32-{IMGSZ}.onnx" and m["variant"]["format"] == "openvino"
    again = build_variant(yolo11_pt, spec, cache_dir=session_cache, imgsz=IMGSZ, data_yaml=data_yaml, calib_images=6)
    assert again.reused and again.manifest["cache_key"] == m["cache_key"]
    fp32 = build_variant(yolo11_pt, parse_variant("fp32", fmt="openvino"), cache_dir=session_cache, imgsz=IMGSZ)
    assert fp32.path.suffix == ".onnx"  # OpenVINO reads the FP32 ONNX itself
    ir_weights(ov_int8.path).write_bytes(b"truncated")  # a damaged .bin rebuilds the pair
    rebuilt = build_variant(yolo11_pt, spec, cache_dir=session_cache, imgsz=IMGSZ, data_yaml=data_yaml, calib_images=6)
    assert not rebuilt.reused and rebuilt.manifest["weights"]["sha256"] == sha256_file(ir_weights(rebuilt.path))


def test_fp16_is_not_built_for_openvino(yolo11_pt, session_cache):
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    with pytest.raises(InputError, match="fp32, int8 or bf16 variant for OpenVINO"):
        build_variant(yolo11_pt, parse_variant("fp16", fmt="openvino"), cache_dir=session_cache, imgsz=IMGSZ)
