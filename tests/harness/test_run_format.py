"""``bench run --format openvino``: the variants' OpenVINO artifacts, run by OpenVINO; a contradiction with --runtime is
one line, exit 2; the help names every format and the bf16 variants."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from common.errors import InputError
from devices.detect import detect_hardware
from devices.resolve import resolve_device, runtime_for
from devices.runtimes.base import RuntimeStatus
from harness.cli import main
from harness.options import RunOptions
from harness.plan import ModelChoice, plan_variants
from harness.run_cmd import add_arguments, check_format_runtime

_MODEL = ModelChoice(path=Path("m.pt"), kind="pt", name="m", family="yolo11", imgsz=320, names=("a",),
                     sha256="0" * 64, reference=None)


def _hardware(*, openvino: bool = True):
    ov = (RuntimeStatus("openvino", True, "2026.4.1", ("CPU",), "importable", capabilities=("BF16", "FP32", "INT8"))
          if openvino else RuntimeStatus("openvino", False, reason="openvino not importable"))
    ort = RuntimeStatus("onnxruntime", True, "1.32.0", ("CPUExecutionProvider",), "importable")
    return detect_hardware(root="/nonexistent", machine="x86_64", runtimes={"openvino": ov, "onnxruntime": ort})


def _help() -> str:
    parser = argparse.ArgumentParser(prog="bench run")
    add_arguments(parser)
    return " ".join(parser.format_help().split())


def test_help_offers_openvino_and_names_the_bf16_variants():
    text = _help()
    assert "--format {onnx,trt,openvino}" in text
    assert "openvino (the variants' OpenVINO artifacts, run by OpenVINO)" in text
    for name in ("bf16", "prunedNN[-fp16|-int8|-bf16]", "student[-fp16|-int8|-bf16]"):
        assert name in text, name


def test_format_openvino_plans_openvino_artifacts_run_by_openvino():
    # --format openvino: every row's artifact is OpenVINO's format, and the runtime that loads it is OpenVINO
    device = resolve_device("cpu", hardware=_hardware())
    rows = plan_variants(RunOptions(format="openvino", variants="fp32,int8,bf16"), _MODEL, device)
    assert [(r.name, r.spec.fmt, r.reason) for r in rows] == [("fp32", "openvino", None), ("int8", "openvino", None),
                                                              ("bf16", "openvino", None)]
    assert runtime_for(device, "openvino").runtime == "openvino"
    default = plan_variants(RunOptions(format="openvino"), _MODEL, device)
    assert "bf16" in [r.name for r in default]  # the default list on OpenVINO's format gains bf16
    onnx = plan_variants(RunOptions(format="onnx", variants="fp32,int8"), _MODEL, device)
    assert {r.spec.fmt for r in onnx} == {"onnx"} and runtime_for(device, "onnx").runtime == "onnxruntime"


def test_format_openvino_without_openvino_is_one_input_error_naming_the_formats():
    device = resolve_device("cpu", hardware=_hardware(openvino=False))
    with pytest.raises(InputError) as exc:
        runtime_for(device, "openvino")
    assert str(exc.value) == "--format: expected a format the runtimes of cpu available here load (onnx), got 'openvino'"


@pytest.mark.parametrize(("fmt", "runtime", "ok"), [
    ("openvino", "openvino", True), ("onnx", "onnxruntime", True), ("trt", "tensorrt", True), (None, "openvino", True),
    ("openvino", None, True), ("onnx", "openvino", False), ("openvino", "onnxruntime", False), ("trt", "openvino", False),
])
def test_format_and_runtime_must_agree(fmt, runtime, ok):
    opts = RunOptions(format=fmt, runtime=runtime)
    if ok:
        assert check_format_runtime(opts) is None
    else:
        with pytest.raises(InputError, match=r"^--format: expected \w+ \(the format --runtime "):
            check_format_runtime(opts)


def test_a_contradiction_is_one_line_exit_2_before_anything_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--format", "onnx", "--runtime", "openvino", "--archive", str(tmp_path / "arch")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["bench: error: --format: expected openvino (the format --runtime openvino runs) or no --format, "
                   "got 'onnx'"]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_format_is_case_insensitive_as_in_bench_export():
    parser = argparse.ArgumentParser(prog="bench run")
    add_arguments(parser)
    assert parser.parse_args(["--format", "OpenVINO"]).format == "openvino"
