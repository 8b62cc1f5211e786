"""``bench smoke``: the on-device check, run here where only ONNX Runtime exists."""

from __future__ import annotations

import importlib.util

import pytest

from harness.cli import main


def test_step1_runs_and_step2_says_how_to_enable(capsys):
    status = main(["smoke", "--iters", "3", "--warmup", "1"])
    out = capsys.readouterr().out
    assert status == 0
    assert "== step 1: runtimes and telemetry" in out
    assert "onnxruntime" in out and "FPS over 3 runs" in out
    # a runtime that did not run is listed with its reason, never with a number
    if importlib.util.find_spec("tensorrt") is None:
        engine_line = next(line for line in out.splitlines() if line.startswith("tiny.engine"))
        assert "not run" in engine_line and "FPS" not in engine_line
    assert "step 2: TensorRT engines: not run (pass --model M.pt --data data.yaml)" in out


def test_model_without_data_is_one_line_exit_2(capsys, tmp_path):
    status = main(["smoke", "--model", str(tmp_path / "m.pt")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == ["bench: error: bench smoke: expected --model and --data together (step 2 builds engines), "
                   "got only --model"]


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_step2_without_tensorrt_names_what_to_install(capsys, tmp_path):
    from harness.reference import MODELS_DIR

    from harness.data.synth import write_dataset

    write_dataset(tmp_path / "ds", n_train=4, n_val=2, seed=0)
    data = tmp_path / "ds" / "data.yaml"
    status = main(["smoke", "--iters", "2", "--warmup", "1", "--model", str(MODELS_DIR / "yolo11n.pt"),
                   "--data", str(data), "--variants", "fp16"])
    captured = capsys.readouterr()
    assert status == 2
    assert "== step 2: TensorRT engines" in captured.out
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("bench: error: tensorrt is not importable") and "pip install" in last
