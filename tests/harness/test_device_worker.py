"""devices.worker: a typed Job measured on this machine without the exporters (a tiny real ONNX, real frames)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.errors import InputError
from common.hashing import file_sha256
from devices.job import DETECTIONS_FILE, ArtifactRef, FrameSet, Job, TimingOptions, WorkerResult
from devices.worker import RESULT_FILE, frame_reader, run_job
from harness.worker import timing_block
from tests.harness.test_preflight import tiny_onnx

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("onnxruntime", reason="the device worker test runs ONNX Runtime")


@pytest.fixture
def job_and_files(tmp_path):
    import cv2

    model = tiny_onnx(tmp_path / "tiny.onnx", side=64)
    frames = tmp_path / "frames"
    (frames / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png", "c.png"):
        cv2.imwrite(str(frames / name), np.full((48, 80, 3), 128, np.uint8))
    job = Job(variant="fp32", precision="fp32", runtime="onnxruntime", device="cpu",
              artifact=ArtifactRef(model.name, file_sha256(model), "onnx"), imgsz=64, nc=2,
              frames=FrameSet("images", 3, ("a.png", "sub/b.png", "c.png")),
              timing=TimingOptions(min_iters=3, min_seconds=0.0, warmup_max_s=0.0, frames=2), threads=1)
    return job, model, frames


def test_run_job_writes_detections_and_a_typed_result(tmp_path, job_and_files):
    job, model, frames = job_and_files
    seen = []
    result = run_job(job, artifact=model, out=tmp_path / "out", frames=frame_reader(job, frames),
                     progress=lambda stage, done, total: seen.append(stage))
    assert result == WorkerResult.from_json((tmp_path / "out" / RESULT_FILE).read_text())
    assert result.variant == "fp32" and result.n_frames == 3 and result.runtime["runtime"] == "onnxruntime"
    assert len(result.timing["stages_ms"]["inference"]) >= 3 and result.timing["fps"] > 0
    block = timing_block(result.timing)  # what the host puts in the record
    assert block["fps"] == result.timing["fps"] and block["end_to_end"]["n"] == len(result.timing["stages_ms"]["end_to_end"])
    with np.load(tmp_path / "out" / DETECTIONS_FILE) as z:
        assert z["frame"].tolist() == [0, 1, 2] and z["classes"].tolist() == [0, 0, 0]  # the one box per frame
    assert "score" in seen


def test_artifact_that_is_not_the_jobs_is_refused(tmp_path, job_and_files):
    job, model, frames = job_and_files
    other = tiny_onnx(tmp_path / "other.onnx", side=32)
    with pytest.raises(InputError, match=r"other\.onnx: expected tiny\.onnx with sha256 "):
        run_job(job, artifact=other, out=tmp_path / "out", frames=frame_reader(job, frames))
    assert not (tmp_path / "out" / RESULT_FILE).exists()


def test_command_line_entry_point(tmp_path, job_and_files):
    """What a remote device runs: `python -m devices.worker JOB --artifact --frames-root --out`."""
    job, model, frames = job_and_files
    path = tmp_path / "job.json"
    path.write_text(job.to_json())
    argv = [sys.executable, "-m", "devices.worker", str(path), "--artifact", str(model), "--frames-root", str(frames),
            "--out", str(tmp_path / "out")]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert WorkerResult.from_json((tmp_path / "out" / RESULT_FILE).read_text()).n_frames == 3
    path.write_text(job.to_json().replace('"version": 1', '"version": 9'))
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"bench worker: error: {path}: expected job version 1 or 2 (this bench reads only those; run the same bench "
        "version on host and device), got version 9"]
