"""The fleet's device side (devices.agent over devices.worker), runnable under Python 3.8 with only numpy,
psutil and onnxruntime (``.ci/run`` runs this file in such a venv) as well as in the full environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.errors import InputError
from devices import agent

ROOT = Path(__file__).resolve().parents[2]
# what a light device does not have, and what the device side must therefore never import
HEAVY = ("torch", "ultralytics", "scipy", "matplotlib", "rich", "yaml", "exporters", "harness.runloop", "results.archive")


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_selftest_runs_the_tiny_job_end_to_end():
    line = agent.selftest()
    assert line["selftest"] == "ok"
    assert line["python"] == ".".join(map(str, sys.version_info[:3]))
    assert line["runtime"] == "onnxruntime" and line["frames"] == agent.SELFTEST_FRAMES
    assert line["detections"] > 0 and line["fps"] > 0 and line["timed_iterations"] >= 10
    assert line["preprocess"] == ("opencv" if _have("cv2") else "numpy")


def test_the_device_side_imports_nothing_heavy_even_where_it_is_installed():
    proc = _python("import json, sys; from devices import agent; agent.selftest(); "
                   f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == []


def test_selftest_cli_prints_one_json_line():
    proc = subprocess.run([sys.executable, "-m", "devices.agent", "--selftest"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["selftest"] == "ok"


def test_describe_names_the_runtimes_and_versions_here():
    import onnxruntime

    d = agent.describe()
    assert d["runtimes"]["onnxruntime"] == {"available": True, "version": onnxruntime.__version__,
                                            "providers": onnxruntime.get_available_providers()}
    assert d["job_version"] == 1 and d["python"] == ".".join(map(str, sys.version_info[:3]))


def test_frames_round_trip_in_order_and_bad_frames_are_one_clear_error(tmp_path):
    frames = agent.synthetic_frames(5, seed=3)
    back = agent.load_frames(agent.save_frames_bytes(frames))
    assert len(back) == 5 and all(np.array_equal(a, b) for a, b in zip(frames, back))
    with pytest.raises(InputError, match="a frames .npz written by the host"):
        agent.load_frames(b"not a zip")
    bad = tmp_path / "f.npz"
    np.savez(bad, f00000=np.zeros((4, 4), np.float32))
    with pytest.raises(InputError, match="HxWx3 uint8 frames"):
        agent.load_frames(bad)


def test_run_with_a_bad_job_file_is_one_line_and_exit_2(tmp_path):
    job = tmp_path / "job.json"
    job.write_text('{"version": 9}')
    proc = subprocess.run([sys.executable, "-m", "devices.agent", "run", str(job), "--artifact", str(agent.SELFTEST_ONNX),
                           "--frames", str(tmp_path / "none.npz"), "--out", str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"bench agent: error: {job}: expected job version 1 or 2 (this bench reads "
                                                "only those; run the same bench version on host and device), got "
                                                "version 9"]


def test_numpy_letterbox_is_used_only_without_opencv_and_is_within_one_grey_level(monkeypatch):
    cv2 = pytest.importorskip("cv2", reason="OpenCV not installed here (a light device): nothing to compare with")
    from harness.pipeline import preprocess as pp

    image = np.random.default_rng(0).integers(0, 256, (384, 288, 3), dtype=np.uint8)
    with_cv2, info = pp.preprocess(image, 320)
    boxed_cv2, _ = pp.letterbox(image, 320)
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    assert agent.preprocess_backend() == "numpy"
    without, info2 = pp.preprocess(image, 320)
    assert info2 == info and without.shape == with_cv2.shape
    assert np.abs(without - with_cv2).max() <= 1 / 255 + 1e-6  # one grey level, never more
    boxed, _ = pp.letterbox(image, 320)  # the padding too (np.pad instead of cv2.copyMakeBorder)
    assert boxed.shape == boxed_cv2.shape == (320, 320, 3)
    assert np.abs(boxed.astype(int) - boxed_cv2.astype(int)).max() == 1
    assert (boxed[:, :40] == pp.PAD_VALUE).all() and cv2 is not None


def test_the_shipped_json_profile_is_a_valid_cpu_profile_with_onnxruntime():
    from devices.profiles import load_profile

    profile = load_profile(str(agent.SELFTEST_PROFILE))  # read without PyYAML (JSON)
    assert profile.name == "cpu" and "onnxruntime" in [r.runtime for r in profile.runtimes]
    assert json.loads(agent.SELFTEST_PROFILE.read_text())["name"] == "cpu"
