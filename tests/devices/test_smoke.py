"""The on-device smoke script runs here on the CPU and reports only what ran."""

from __future__ import annotations

import dataclasses
import json

import pytest

from devices import resolve
from devices.runtimes.base import RuntimeStatus
from devices.smoke import MATCH_TOLERANCE, OPENVINO_LABEL, main

pytest.importorskip("onnx", reason="onnx builds the tiny model (pip install 'edge-bench[export]')")

NO_OPENVINO = ("openvino not importable (No module named 'openvino'); install it with pip install "
               "'edge-bench[openvino]'")


def _smoke_json(capsys, *extra) -> dict:
    assert main(["--device", "cpu", "--iters", "5", "--warmup", "1", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def without_openvino(monkeypatch):
    """This machine's hardware as detected, with OpenVINO reported not installed."""
    real = resolve.detect_hardware

    def detect(**kw):
        hw = real(**kw)
        return dataclasses.replace(hw, runtimes={**hw.runtimes, "openvino": RuntimeStatus("openvino", False,
                                                                                            reason=NO_OPENVINO)})

    monkeypatch.setattr(resolve, "detect_hardware", detect)


def test_smoke_cpu_json(capsys):
    report = _smoke_json(capsys)
    run = report["runs"]["tiny.onnx"]
    assert run["runtime"]["runtime"] == "onnxruntime" and run["iters"] == 5 and run["fps"] > 0
    assert run["latency_ms"]["p50"] > 0 and "split_ms_mean" not in run
    if not report["device"]["hardware"]["runtimes"]["tensorrt"]["available"]:
        assert "tiny.engine" not in report["runs"] and "tensorrt" in report["not_run"]["tiny.engine"]
        assert not any(k.startswith("tensorrt") for k in report["checks"])


def test_openvino_runs_the_tiny_model_at_f32_and_matches_onnxruntime(capsys):
    report = _smoke_json(capsys)
    status = report["device"]["hardware"]["runtimes"]["openvino"]
    if not status["available"]:
        pytest.skip(f"openvino is not installed here ({status['reason']}); the not-installed line is tested below")
    run = report["runs"][OPENVINO_LABEL]
    assert run["runtime"]["runtime"] == "openvino" and run["runtime"]["precision"] == "fp32"
    assert run["runtime"]["inference_precision"] == "f32" and run["iters"] == 5 and run["fps"] > 0
    assert OPENVINO_LABEL not in report["not_run"]
    diff = report["checks"]["openvino_vs_onnxruntime_max_abs_diff"]
    assert 0 <= diff < MATCH_TOLERANCE and report["checks"]["openvino_matches_onnxruntime"] is True


def test_without_openvino_one_line_says_so_and_no_number(capsys, without_openvino):
    report = _smoke_json(capsys)
    assert OPENVINO_LABEL not in report["runs"] and report["not_run"][OPENVINO_LABEL] == NO_OPENVINO
    assert not any(k.startswith("openvino") for k in report["checks"])
    assert report["runs"]["tiny.onnx"]["runtime"]["runtime"] == "onnxruntime"  # the cpu profile falls back to ORT
    assert main(["--device", "cpu", "--iters", "3", "--warmup", "1"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if OPENVINO_LABEL in line]
    assert lines == [f"{OPENVINO_LABEL}: not run: {NO_OPENVINO}"]


def test_smoke_bad_device_exits_2(capsys):
    assert main(["--device", "tpu"]) == 2
    assert "expected a device" in capsys.readouterr().err


def test_openvino_runs_under_the_cpu_profile_on_a_device_whose_profile_does_not_list_it():
    from types import SimpleNamespace as NS

    from devices.profiles import load_profile
    from devices.smoke import _openvino_profile

    assert _openvino_profile(NS(profile=load_profile("jetson-orin-nano"))).name == "cpu"
    assert _openvino_profile(NS(profile=load_profile("desktop-gpu"))).name == "cpu"
    assert _openvino_profile(NS(profile=load_profile("cpu"))).name == "cpu"
