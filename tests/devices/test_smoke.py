"""The on-device smoke script runs here on the CPU and reports only what ran."""

from __future__ import annotations

import json

import pytest

from devices.smoke import main

pytest.importorskip("onnx")


def test_smoke_cpu_json(capsys):
    assert main(["--device", "cpu", "--iters", "5", "--warmup", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    run = report["runs"]["tiny.onnx"]
    assert run["runtime"]["runtime"] == "onnxruntime" and run["iters"] == 5 and run["fps"] > 0
    assert run["latency_ms"]["p50"] > 0 and "split_ms_mean" not in run
    if not report["device"]["hardware"]["runtimes"]["tensorrt"]["available"]:
        assert "tiny.engine" not in report["runs"] and "tensorrt" in report["not_run"]["tiny.engine"]
        assert report["checks"] == {}


def test_smoke_bad_device_exits_2(capsys):
    assert main(["--device", "tpu"]) == 2
    assert "expected a device" in capsys.readouterr().err
