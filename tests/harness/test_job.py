"""The worker boundary's files: frozen v1 examples are read, unknown versions and bad fields are one line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import InputError
from devices.job import JOB_VERSION, ArtifactRef, FrameSet, Job, WorkerResult

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]


def test_frozen_job_v1_is_read_and_round_trips():
    text = (DATA / "job-v1.json").read_text()
    job = Job.from_json(text)
    assert (job.variant, job.precision, job.runtime, job.device) == ("int8", "int8", "onnxruntime", "cpu")
    assert job.artifact == ArtifactRef("yolo11n-int8.onnx", "3f" * 32, "onnx")
    assert job.frames.kind == "images" and job.frames.count == 3 and job.frames.names[0] == "images/val/000000.jpg"
    assert (job.nms.conf, job.nms.iou, job.nms.max_det) == (0.001, 0.7, 300)
    assert job.timing.frames == 32 and job.threads == 2 and job.providers == ("CPUExecutionProvider",)
    assert Job.from_json(job.to_json()) == job
    assert json.loads(job.to_json()) == json.loads(text)


def test_frozen_worker_result_v1_is_read_and_round_trips():
    text = (DATA / "worker-result-v1.json").read_text()
    res = WorkerResult.from_json(text)
    assert res.variant == "int8" and res.n_frames == 3 and res.timing["fps"] == 71.2
    assert res.versions["onnxruntime"] == "1.20.1" and res.runtime["runtime"] == "onnxruntime"
    assert WorkerResult.from_json(res.to_json()) == res


@pytest.mark.parametrize("cls,name", [(Job, "job-v1.json"), (WorkerResult, "worker-result-v1.json")])
@pytest.mark.parametrize("version", [0, 2, None, "1"])
def test_unknown_version_is_one_clear_line(cls, name, version):
    data = json.loads((DATA / name).read_text())
    data["version"] = version
    with pytest.raises(InputError) as err:
        cls.from_dict(data)
    message = str(err.value)
    assert "\n" not in message
    assert f"version {JOB_VERSION}" in message and f"got version {version}" in message


@pytest.mark.parametrize("patch,where", [
    ({"imgsz": 0}, "job.imgsz"),
    ({"frames": {"kind": "images", "count": 1, "names": ["/etc/passwd"]}}, "job.frames.names"),
    ({"frames": {"kind": "images", "count": 1, "names": ["../x.jpg"]}}, "job.frames.names"),
    ({"frames": {"kind": "webcam", "count": 1}}, "job.frames.kind"),
    ({"nms": {"conf": float("nan")}}, "job.nms.conf"),
    ({"threads": True}, "job.threads"),
])
def test_bad_field_names_the_field(patch, where):
    data = json.loads((DATA / "job-v1.json").read_text())
    data.update(patch)
    with pytest.raises(InputError, match=rf"^{where}: expected "):
        Job.from_dict(data)


def test_not_json_is_one_line():
    with pytest.raises(InputError, match="^job: expected a JSON document"):
        Job.from_json("{not json")


def test_artifact_is_filled_in_after_the_build():
    job = Job("fp32", "fp32", "onnxruntime", "cpu", None, 64, 2, FrameSet("video", 5, ("clip.mp4",)))
    built = job.with_artifact(ArtifactRef("m.onnx", "00" * 32, "onnx"))
    assert job.artifact is None and built.artifact.name == "m.onnx" and Job.from_json(built.to_json()) == built


def test_job_module_has_no_syntax_newer_than_python_3_8():
    """Parsed with Python 3.8's grammar (ast feature_version), so a device on 3.8 can import it."""
    import ast

    for rel in ("devices/job.py", "devices/worker.py", "common/errors.py"):
        path = ROOT / rel
        if path.is_file():
            ast.parse(path.read_text(), filename=rel, feature_version=(3, 8))


def test_job_module_imports_with_the_standard_library_only():
    code = ("import sys; import devices.job; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'harness', 'exporters', 'results')); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("samples", [[1.0, float("nan")], "12 ms", [True]])
def test_timing_samples_must_be_finite_numbers(samples):
    data = json.loads((DATA / "worker-result-v1.json").read_text())
    data["timing"]["stages_ms"]["inference"] = samples
    with pytest.raises(InputError, match=r"^worker result\.timing\.stages_ms\.inference: expected a list of finite"):
        WorkerResult.from_dict(data)
