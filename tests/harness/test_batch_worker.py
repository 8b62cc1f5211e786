"""The device worker's throughput pass (``job.batch`` N > 1) on tiny ONNX graphs made here, no export needed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from common.errors import InputError
from devices.job import ArtifactRef, FrameSet, Job, TimingOptions


def _tiny_onnx(path: Path, batch: int) -> Path:
    """``images [batch,3,64,64]`` -> ``[batch, 6, 64]``: 8x8 average pools of the three planes, twice (4 box + 2 class
    rows), so each image's output depends on that image only."""
    onnx = pytest.importorskip("onnx", reason="the tiny graphs are written with onnx")
    from onnx import TensorProto, helper

    nodes = [helper.make_node("AveragePool", ["images"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
             helper.make_node("Reshape", ["pooled", "shape"], ["flat"]),
             helper.make_node("Concat", ["flat", "flat"], ["output0"], axis=1)]
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [batch, 3, 64])
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 64, 64])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 6, 64])], [shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _job(tmp_path: Path, batch: int) -> tuple[Job, Path]:
    from common.hashing import file_sha256

    one = _tiny_onnx(tmp_path / "tiny-64.onnx", 1)
    ref = ArtifactRef(one.name, file_sha256(one), "onnx")
    batch_ref = None
    if batch > 1:
        many = _tiny_onnx(tmp_path / f"tiny-64-b{batch}.onnx", batch)
        batch_ref = ArtifactRef(many.name, file_sha256(many), "onnx")
    job = Job(variant="fp32", precision="fp32", runtime="onnxruntime", device="cpu", artifact=ref, imgsz=64, nc=2,
              frames=FrameSet("images", 5, tuple(f"{i}.jpg" for i in range(5))), threads=1,
              timing=TimingOptions(min_iters=12, min_seconds=0.0, warmup_max_s=0.2, frames=4),
              batch=batch, batch_artifact=batch_ref)
    return job, one


def _frames(limit):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (48, 64, 3), np.uint8) for _ in range(5)]
    return iter(images if limit is None else images[:limit])


def test_worker_times_batch_n_beside_the_single_stream_and_scores_with_batch_1(tmp_path):
    pytest.importorskip("onnxruntime", reason="the worker opens the graphs with ONNX Runtime")
    from devices.worker import run_job

    job, artifact = _job(tmp_path, 4)
    result = run_job(job, artifact=artifact, out=tmp_path / "out", frames=_frames)
    batch = result.timing["batch"]
    assert batch["batch"] == 4 and batch["artifact"] == "tiny-64-b4.onnx"
    assert batch["n"] >= 10 and batch["images_per_s"] == pytest.approx(4 * batch["n"] / batch["timed_seconds"])
    # what the pass is judged by (results.validity.batch_verdict): its calls in order and its own CPU wait
    assert len(batch["samples_ms"]) == batch["n"] and min(batch["samples_ms"]) > 0
    assert np.median(batch["samples_ms"]) == pytest.approx(batch["batch_p50_ms"])
    if Path("/proc/self/task").is_dir():  # Linux: schedstat is read; elsewhere the share is absent, not 0
        assert 0 <= batch["cpu_wait_share"] < 1
    assert result.n_frames == 5 and result.timing["fps"] > 0  # the single stream, as without --batch
    (tmp_path / "b1").mkdir()
    job1, artifact1 = _job(tmp_path / "b1", 1)
    single = run_job(job1, artifact=artifact1, out=tmp_path / "out1", frames=_frames)
    assert "batch" not in single.timing
    a, b = (np.load(tmp_path / d / "detections.npz") for d in ("out", "out1"))
    for key in ("frame", "boxes", "scores", "classes"):  # detections come from the batch-1 pass either way
        np.testing.assert_array_equal(a[key], b[key])
    assert json.loads((tmp_path / "out" / "result.json").read_text())["timing"]["batch"]["batch"] == 4


def test_batch_artifact_must_be_the_one_the_job_names(tmp_path):
    pytest.importorskip("onnxruntime", reason="the worker opens the graphs with ONNX Runtime")
    from devices.worker import run_job

    job, artifact = _job(tmp_path, 2)
    (tmp_path / "tiny-64-b2.onnx").write_bytes(b"not the graph the job names")
    with pytest.raises(InputError, match="tiny-64-b2.onnx"):
        run_job(job, artifact=artifact, out=tmp_path / "out", frames=_frames)
    with pytest.raises(InputError, match="a batch-2 artifact in the job"):
        from dataclasses import replace

        run_job(replace(job, batch_artifact=None), artifact=artifact, out=tmp_path / "out2", frames=_frames, verify=False)
