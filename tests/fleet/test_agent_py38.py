"""``python -m devices.agent --selftest`` under Python 3.8 in a venv with only numpy, psutil and onnxruntime.

The interpreter is ``$BENCH_PY38`` (``.ci/run`` sets it), else the venv ``.ci/run`` makes at
``~/.cache/edge-bench/venv-py38``; where neither exists the test is skipped and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = Path.home() / ".cache" / "edge-bench" / "venv-py38" / "bin" / "python"


def _py38() -> Path:
    path = Path(os.environ.get("BENCH_PY38") or DEFAULT_VENV)
    if not path.is_file():
        pytest.skip(f"no Python 3.8 device venv at {path} (.ci/run makes it where pyenv or PATH has Python 3.8)")
    return path


def test_selftest_under_python38_with_only_numpy_psutil_onnxruntime():
    py = _py38()
    installed = subprocess.run([str(py), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True,
                               timeout=120, check=True)
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    for heavy in ("opencv-python-headless", "opencv-python", "torch", "ultralytics", "pyyaml", "scipy", "rich"):
        assert heavy not in names, f"the light venv must not have {heavy}"
    proc = subprocess.run([str(py), "-m", "devices.agent", "--selftest"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    line = json.loads(lines[0])
    assert line["selftest"] == "ok" and line["python"].startswith("3.8.")
    assert line["preprocess"] == "numpy"  # no OpenCV there: the record says which letterbox ran
    assert line["frames"] == 4 and line["detections"] > 0 and line["timed_iterations"] >= 10
    assert set(line["versions"]) <= {"onnxruntime", "numpy"}
