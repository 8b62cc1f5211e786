"""A static batch N (``bench run --batch N``'s throughput artifact): keyed apart, runs N frames per call, same outputs.

On the tiny random-weight YOLO11n of conftest.py (64 px).
"""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from tests.exporters.conftest import IMGSZ


def _ort(path):
    ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime runs the exported graphs")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _frames(n: int) -> np.ndarray:
    from harness.pipeline.preprocess import preprocess

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48 + 8 * i, 64, 3), np.uint8) for i in range(n)]
    return np.concatenate([preprocess(img, IMGSZ)[0] for img in images], axis=0)


@pytest.fixture(scope="module")
def fp32_b4(yolo11_pt, session_cache):
    from exporters.build import build_variant

    return build_variant(yolo11_pt, "fp32", cache_dir=session_cache, imgsz=IMGSZ, batch=4)


def test_batch_4_export_is_keyed_apart_and_runs_4_frames_per_call(fp32_b4, fp32_artifact):
    assert fp32_b4.path.name == f"fp32-{IMGSZ}-b4.onnx" and fp32_artifact.path.name == f"fp32-{IMGSZ}.onnx"
    assert fp32_b4.path.parent == fp32_artifact.path.parent  # beside the batch-1 one: the worker finds it by name
    assert fp32_b4.manifest["onnx"]["batch"] == 4
    session = _ort(fp32_b4.path)
    assert session.get_inputs()[0].shape == [4, 3, IMGSZ, IMGSZ]
    out = session.run(None, {session.get_inputs()[0].name: _frames(4)})[0]
    assert out.shape[0] == 4 and out.shape[1] == fp32_artifact.manifest["output"]["shape"][1]


def test_batch_n_outputs_match_batch_1_within_float_tolerance(fp32_b4, fp32_artifact):
    x = _frames(4)
    batched = _ort(fp32_b4.path)
    single = _ort(fp32_artifact.path)
    out_b = batched.run(None, {batched.get_inputs()[0].name: x})[0]
    for i in (0, 3):
        out_1 = single.run(None, {single.get_inputs()[0].name: x[i : i + 1]})[0]
        np.testing.assert_allclose(out_b[i : i + 1], out_1, rtol=1e-4, atol=1e-3)


def test_building_batch_n_leaves_the_batch_1_artifact_untouched(yolo11_pt, session_cache, fp32_artifact, fp32_b4):
    from exporters.build import build_variant

    again = build_variant(yolo11_pt, "fp32", cache_dir=session_cache, imgsz=IMGSZ)
    assert again.reused and again.manifest["artifact"]["sha256"] == fp32_artifact.manifest["artifact"]["sha256"]
    assert "batch" not in again.manifest["key_inputs"] and fp32_b4.manifest["key_inputs"]["batch"] == 4


@pytest.mark.parametrize("batch", [0, 257, True])
def test_a_bad_batch_is_one_line(yolo11_pt, session_cache, batch):
    from exporters.build import build_variant

    with pytest.raises(InputError, match="--batch: expected a batch in 1..256"):
        build_variant(yolo11_pt, "fp32", cache_dir=session_cache, imgsz=IMGSZ, batch=batch)


def test_an_onnx_source_cannot_be_rebatched(fp32_artifact, session_cache):
    from exporters.build import build_variant

    with pytest.raises(InputError, match="--batch: expected a PyTorch .pt source for --batch above 1"):
        build_variant(fp32_artifact.path, "fp32", cache_dir=session_cache, imgsz=IMGSZ, batch=2)


def test_calibration_reader_feeds_n_images_per_item_and_sees_every_image(data_yaml):
    from exporters.calibration import ImageCalibrationReader, batched_reader, select_calibration_images

    calib = select_calibration_images(data_yaml, count=5)
    single = ImageCalibrationReader(calib.files, imgsz=IMGSZ)
    reader = batched_reader(single, 2)
    items = [item["images"] for item in reader]
    assert len(reader) == 3 and [x.shape for x in items] == [(2, 3, IMGSZ, IMGSZ)] * 3
    ones = [item["images"] for item in single]
    np.testing.assert_array_equal(np.concatenate(items)[:5], np.concatenate(ones))
    np.testing.assert_array_equal(items[2][1], ones[0][0])  # the last item completed with the first image again
    reader.rewind()
    reader.set_range(1, 2)
    assert len(list(iter(reader.get_next, None))) == 1
    assert batched_reader(single, 1) is single


def test_int8_at_batch_2_is_calibrated_on_the_same_images_and_runs_at_batch_2(yolo11_pt, session_cache, data_yaml,
                                                                              int8_artifact):
    from exporters.build import build_variant

    art = build_variant(yolo11_pt, "int8", cache_dir=session_cache, imgsz=IMGSZ, data_yaml=data_yaml, calib_images=6,
                        batch=2)
    assert art.path.name == f"int8-{IMGSZ}-b2.onnx"
    calibration = art.manifest["quantization"]["calibration"]
    assert calibration["images"] == int8_artifact.manifest["quantization"]["calibration"]["images"]
    session = _ort(art.path)
    assert session.get_inputs()[0].shape == [2, 3, IMGSZ, IMGSZ]
    assert session.run(None, {session.get_inputs()[0].name: _frames(2)})[0].shape[0] == 2


def test_tensorrt_calibrator_takes_the_networks_batch():
    from exporters.tensorrt_build import make_calibrator
    from tests.fakes.trt import make_trt

    class Cudart:  # cudaMalloc / cudaMemcpy / cudaFree as cuda-python returns them: (err, *values)
        class cudaMemcpyKind:
            cudaMemcpyHostToDevice = 1

        def __init__(self):
            self.copied = []

        def cudaMalloc(self, n):
            return 0, 4096

        def cudaMemcpy(self, dst, src, n, kind):
            self.copied.append(n)
            return (0,)

        def cudaFree(self, ptr):
            return (0,)

    class Reader:
        batch = 1

        def __init__(self, batch=1):
            self.batch, self.left = batch, 2

        def batched(self, batch):
            return Reader(batch)

        def get_next(self):
            if not self.left:
                return None
            self.left -= 1
            return {"images": np.zeros((self.batch, 3, 8, 8), np.float32)}

    cudart = Cudart()
    calibrator = make_calibrator(make_trt("8.6.1"), Reader(), cache_file=__import__("pathlib").Path("/nonexistent"),
                                 cudart=cudart)
    assert calibrator.get_batch_size() == 1
    calibrator.use_batch(4)
    assert calibrator.get_batch_size() == 4
    assert calibrator.get_batch(["images"]) == [4096] and cudart.copied == [4 * 3 * 8 * 8 * 4]


def test_openvino_int8_at_batch_2_is_calibrated_on_the_same_images_and_runs_at_batch_2(yolo11_pt, session_cache,
                                                                                       data_yaml):
    pytest.importorskip("openvino", reason="OpenVINO INT8 needs the openvino extra")
    pytest.importorskip("nncf", reason="OpenVINO INT8 needs the openvino extra (nncf)")
    from devices.runtimes.openvino import OpenVINOSession
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    art = build_variant(yolo11_pt, parse_variant("int8", fmt="openvino"), cache_dir=session_cache, imgsz=IMGSZ,
                        data_yaml=data_yaml, calib_images=6, batch=2)
    assert art.path.name == f"int8-openvino-{IMGSZ}-b2.xml"
    assert art.manifest["quantization"]["calibration"]["image_count"] == 6
    session = OpenVINOSession(art.path, threads=1)
    assert session.run(_frames(2))[0].shape[0] == 2
