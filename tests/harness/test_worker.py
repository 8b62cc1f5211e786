"""The per-variant worker process: whatever happens inside it becomes a status, never a crash of the run."""

import json
import textwrap

from devices.job import FrameSet, Job, TimingOptions
from harness.worker import BuildRequest, run_isolated


def _task(tmp_path, **build):
    req = BuildRequest(**{"source": str(tmp_path / "missing.pt"), "variant": "fp32", "format": "onnx", "imgsz": 64,
                          "cache_dir": str(tmp_path / "cache"), "calib_images": 4, **build})
    job = Job(variant="fp32", precision="fp32", runtime="onnxruntime", device="cpu", artifact=None, imgsz=64, nc=2,
              frames=FrameSet("images", 0, ()), timing=TimingOptions(min_iters=1, min_seconds=0.0, warmup_max_s=0.1),
              threads=1)
    return req, job


def test_clear_error_becomes_failed_with_its_message(tmp_path):
    req, job = _task(tmp_path)
    outcome = run_isolated(req, job, frames_root=tmp_path, out=tmp_path / "out", timeout=120)
    assert outcome.status == "failed" and outcome.input_error
    assert "missing.pt" in outcome.reason and "no such file" in outcome.reason
    assert outcome.detections is None and outcome.timing is None
    task = json.loads((tmp_path / "out" / "task.json").read_text())
    assert task["version"] == 1 and task["job"]["version"] == 1 and task["build"]["source"].endswith("missing.pt")


def test_crash_keeps_error_tail(tmp_path, monkeypatch):
    """A real crash inside the child (an exporter raising a plain exception): failed, with the traceback's tail."""
    fake = tmp_path / "exporters"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "spec.py").write_text("def parse_variant(name, fmt):\n    return name\n")
    (fake / "build.py").write_text(textwrap.dedent("""
        def build_variant(*args, **kwargs):
            raise KeyError("boom inside the exporter")
    """))
    monkeypatch.chdir(tmp_path)  # the child's sys.path starts with its working folder: this exporters/ shadows
    req, job = _task(tmp_path)
    outcome = run_isolated(req, job, frames_root=tmp_path, out=tmp_path / "out", timeout=120)
    assert outcome.status == "failed" and not outcome.input_error
    assert outcome.reason.startswith("worker crashed (exit 1)")
    assert "KeyError" in outcome.error_tail and "boom inside the exporter" in outcome.error_tail


def test_a_timeout_names_the_stage_the_worker_was_in(tmp_path, monkeypatch):
    """An exporter that reports a stage and then hangs (a TensorRT build taking longer than --timeout): the
    reason names the stage and says which option gives it longer."""
    fake = tmp_path / "exporters"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "spec.py").write_text("def parse_variant(name, fmt):\n    return name\n")
    (fake / "build.py").write_text(textwrap.dedent("""
        import time

        def build_variant(*args, progress=None, **kwargs):
            progress("building engine", 0, 1)
            time.sleep(120)
    """))
    monkeypatch.chdir(tmp_path)
    req, job = _task(tmp_path)
    outcome = run_isolated(req, job, frames_root=tmp_path, out=tmp_path / "out", timeout=10)
    assert outcome.status == "failed" and not outcome.input_error
    assert outcome.reason == ("timed out after 10 s (in stage: building engine) and was killed; raise --timeout to "
                              "give it longer")


def test_timeout_kills_and_says_so(tmp_path):
    req, job = _task(tmp_path)
    outcome = run_isolated(req, job, frames_root=tmp_path, out=tmp_path / "out", timeout=0.05)
    assert outcome.status == "failed" and not outcome.input_error
    assert outcome.reason.startswith("timed out after 0.05 s") and outcome.reason.endswith(
        "and was killed; raise --timeout to give it longer")
    assert not (tmp_path / "out" / "result.json").exists()
