"""``bench export``: exit statuses, one-line errors, output copies."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from tests.exporters.conftest import IMGSZ


def _run(capsys, *argv):
    code = main(["export", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_fp32_and_copy_out(capsys, yolo11_pt, fp32_artifact, session_cache, tmp_path):
    code, out, err = _run(capsys, "--model", yolo11_pt, "--variant", "fp32", "--format", "onnx", "--imgsz", IMGSZ,
                          "--cache", session_cache, "--out", tmp_path / "dist")
    assert code == 0, err
    path_line, summary = out.strip().splitlines()
    copied = tmp_path / "dist" / f"{yolo11_pt.stem}-fp32-64.onnx"
    assert path_line == str(copied) and copied.read_bytes() == fp32_artifact.path.read_bytes()
    manifest = json.loads((tmp_path / "dist" / f"{copied.name}.manifest.json").read_text())
    assert manifest["artifact"]["sha256"] == fp32_artifact.manifest["artifact"]["sha256"]
    assert summary.startswith("fp32 (onnx) 64px:") and "GFLOPs" in summary and summary.endswith("(cached)")
    assert "export onnx (cached)" in err


def test_default_imgsz_comes_from_the_checkpoint(capsys, yolo11_pt, fp32_artifact, session_cache):
    code, out, _ = _run(capsys, "--model", yolo11_pt, "--variant", "fp32", "--cache", session_cache)
    assert code == 0 and out.splitlines()[0] == str(fp32_artifact.path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--variant", "int4"], "variant: expected a variant name: fp32, fp16, int8, prunedNN"),
        (["--variant", "pruned95"], "expected a pruning percentage between 5 and 90"),
        (["--variant", "int8", "--imgsz", "64"], "--data: expected a dataset YAML"),
        (["--variant", "fp32", "--imgsz", "65"], "--imgsz: expected an input size that is a multiple of 32"),
        (["--variant", "int8", "--imgsz", "64", "--data", "missing.yaml"], "missing.yaml: expected an existing dataset YAML"),
        (["--variant", "int8", "--imgsz", "64", "--data", "x.yaml", "--calib-method", "kl"], "--calib-method"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, yolo11_pt, tmp_path, args, message):
    code, out, err = _run(capsys, "--model", yolo11_pt, "--cache", tmp_path, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("bench: error: ") and message in err
    assert not any(tmp_path.rglob("*.onnx"))  # nothing written


def test_corrupt_model_exit_2(capsys, tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x00" * 64)
    code, _, err = _run(capsys, "--model", bad, "--variant", "fp32", "--cache", tmp_path / "cache")
    assert code == 2 and "model.pt: expected an Ultralytics .pt checkpoint" in err and err.count("\n") == 1
    assert not (tmp_path / "cache").exists()
