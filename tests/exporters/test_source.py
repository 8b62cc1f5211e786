"""Source validation: supported detection checkpoints pass, everything else is one clear InputError line."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from exporters.source import inspect_source, load_pytorch
from common.errors import InputError


def _save(model, path, task):
    from exporters.finetune import save_checkpoint

    model.task = task
    save_checkpoint(model, path)
    return path


def test_yolo11_and_yolo12_are_recognized(yolo11_pt, yolo12_pt):
    src = inspect_source(yolo11_pt)
    assert (src.kind, src.task, src.family, src.names, src.imgsz) == ("pt", "detect", "yolo11", ("rect", "disc"), 64)
    assert len(src.sha256) == 64 and src.pruning is None
    assert inspect_source(yolo12_pt).family == "yolo12"


@pytest.mark.parametrize(
    ("content", "cause"),
    [(b"", "EOFError"), (b"definitely not a checkpoint", "UnpicklingError"), (b"PK\x03\x04broken zip", None)],
)
def test_corrupt_pt(tmp_path, content, cause):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(InputError) as err:
        inspect_source(bad)
    message = str(err.value)
    assert message.startswith(f"{bad}: expected an Ultralytics .pt checkpoint, got an unreadable file")
    assert "\n" not in message
    if cause:
        assert cause in message


def test_truncated_pt(tmp_path, yolo11_pt):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(yolo11_pt.read_bytes()[:4000])
    with pytest.raises(InputError, match="expected an Ultralytics .pt checkpoint"):
        load_pytorch(bad)


def test_pt_without_model(tmp_path):
    import torch

    path = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, path)
    with pytest.raises(InputError, match="expected an Ultralytics .pt checkpoint"):
        inspect_source(path)


def test_non_detection_task(tmp_path):
    from ultralytics.nn.tasks import SegmentationModel

    path = _save(SegmentationModel("yolo11n-seg.yaml", nc=2, verbose=False), tmp_path / "seg.pt", "segment")
    with pytest.raises(InputError, match=r"seg\.pt: expected a detection model \(task 'detect'\), got task 'segment'"):
        inspect_source(path)


def test_end_to_end_head_is_unsupported(tmp_path):
    from ultralytics.nn.tasks import DetectionModel

    path = _save(DetectionModel("yolo26n.yaml", nc=2, verbose=False), tmp_path / "y26.pt", "detect")
    with pytest.raises(InputError, match="end-to-end"):
        inspect_source(path)


def test_other_head_is_unsupported(tmp_path):
    from ultralytics.nn.tasks import DetectionModel

    path = _save(DetectionModel("yolov10n.yaml", nc=2, verbose=False), tmp_path / "v10.pt", "detect")
    with pytest.raises(InputError, match="standard Detect head, got head v10Detect"):
        inspect_source(path)


def test_missing_file_and_suffix(tmp_path):
    with pytest.raises(InputError, match="expected an existing .pt or .onnx model file, got no such file"):
        inspect_source(tmp_path / "nope.pt")
    other = tmp_path / "model.tflite"
    other.write_bytes(b"x")
    with pytest.raises(InputError, match="expected a model file ending in .pt or .onnx, got .tflite"):
        inspect_source(other)


def test_onnx_source(fp32_artifact):
    src = inspect_source(fp32_artifact.path)
    assert (src.kind, src.family, src.imgsz, src.names) == ("onnx", "yolo11", 64, ("rect", "disc"))


@pytest.mark.parametrize("content", [b"garbage", b""])
def test_corrupt_onnx(tmp_path, content):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=r"bad\.onnx: expected a valid ONNX model"):
        inspect_source(bad)


def test_truncated_onnx(tmp_path, fp32_artifact):
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(fp32_artifact.path.read_bytes()[:2000])
    with pytest.raises(InputError, match="expected a valid ONNX model"):
        inspect_source(bad)


def _tiny_onnx(path, in_shape, out_shape, task="detect"):
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, in_shape)
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)
    node = helper.make_node("Identity", ["images"], ["output0"])
    model = helper.make_model(helper.make_graph([node], "g", [inp], [out]), opset_imports=[helper.make_opsetid("", 17)])
    model.metadata_props.add(key="task", value=task)
    onnx.save(model, str(path))
    return path


def test_onnx_classifier_is_refused(tmp_path):
    path = _tiny_onnx(tmp_path / "cls.onnx", [1, 3, 64, 64], [1, 3, 64, 64], task="classify")
    with pytest.raises(InputError, match="got task 'classify'"):
        inspect_source(path)


def test_onnx_without_detection_layout(tmp_path):
    path = _tiny_onnx(tmp_path / "odd.onnx", [1, 3, 64, 64], [1, 3, 64, 64])
    with pytest.raises(InputError, match=r"odd\.onnx output: expected a detection output \(1, 4\+nc, anchors\)"):
        inspect_source(path)
    dyn = _tiny_onnx(tmp_path / "dyn.onnx", ["batch", 3, 64, 64], [1, 6, 84])
    with pytest.raises(InputError, match="expected a static square input 1x3xSxS, got batchx3x64x64"):
        inspect_source(dyn)


def test_quantized_onnx_is_not_a_source(int8_artifact):
    with pytest.raises(InputError, match="expected an FP32 ONNX model, got an already quantized graph"):
        inspect_source(int8_artifact.path)
