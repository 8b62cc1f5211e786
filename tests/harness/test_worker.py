"""The per-variant worker process: whatever happens inside it becomes a status, never a crash of the run."""

from harness.worker import run_isolated


def _job(tmp_path, **over):
    job = {
        "job_version": 1, "variant": "fp32", "format": "onnx", "source": str(tmp_path / "missing.pt"), "imgsz": 64,
        "student_source": None, "data_yaml": None, "calib_images": 4,
        "cache_dir": str(tmp_path / "cache"), "device": "cpu", "threads": 1,
        "frames": {"kind": "images", "paths": [], "video": None, "count": 0},
        "conf": 0.001, "iou": 0.7, "max_det": 300,
        "timing": {"min_iters": 1, "min_seconds": 0.0, "warmup_max_s": 0.1}, "out": str(tmp_path / "out"),
    }
    job.update(over)
    return job


def test_clear_error_becomes_failed_with_its_message(tmp_path):
    outcome = run_isolated(_job(tmp_path), timeout=120)
    assert outcome.status == "failed"
    assert "missing.pt" in outcome.reason and "no such file" in outcome.reason
    assert outcome.detections is None and outcome.timing is None


def test_crash_keeps_error_tail(tmp_path):
    job = _job(tmp_path)
    del job["device"]  # the worker dies on a KeyError: a crash, not a clear message
    outcome = run_isolated(job, timeout=120)
    assert outcome.status == "failed"
    assert outcome.reason.startswith("worker crashed (exit 1)")
    assert "KeyError" in outcome.error_tail


def test_timeout_kills_and_says_so(tmp_path):
    outcome = run_isolated(_job(tmp_path), timeout=0.05)
    assert outcome.status == "failed"
    assert outcome.reason == "timed out after 0.05 s and was killed"
    assert not (tmp_path / "out" / "result.json").exists()
