"""Structured pruning: split-free blocks are exact, pruning shrinks the model, checkpoints reload anywhere."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exporters.splitfree import C2fSplitFree, convert_split_blocks
from common.errors import BenchError, InputError



def _model(cfg):
    import torch
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    return DetectionModel(cfg, nc=2, verbose=False).eval()


def _vary_batchnorm(model):
    import torch

    for module in model.modules():  # non-trivial statistics, so the copied halves matter
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)


@pytest.mark.slow
def test_split_free_conversion_is_exact_yolo11():
    import torch

    model = _model("yolo11n.yaml")
    _vary_batchnorm(model)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)[0]
        assert convert_split_blocks(model) == 8  # the C3k2 blocks
        after = model(x)[0]
    assert sum(isinstance(m, C2fSplitFree) for m in model.modules()) == 8
    assert torch.allclose(before, after, atol=1e-5)


@pytest.mark.slow
def test_yolo12_converts_exactly_prunes_and_runs():
    import torch
    from ultralytics.nn.modules.block import A2C2f
    from ultralytics.nn.modules.head import Detect

    from exporters.prune import prune_model

    model = _model("yolo12n.yaml")
    _vary_batchnorm(model)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)[0]
        converted = convert_split_blocks(model)
        after = model(x)[0]
    assert converted == 3 and torch.allclose(before, after, atol=1e-5)
    params = sum(p.numel() for p in model.parameters())
    pruned = prune_model(model, 0.3, example_imgsz=64)
    info = pruned.bench_pruning
    assert info["family"] == "yolo12" and info["ratio"] == 0.3
    assert info["params_after"] < 0.8 * info["params_before"]
    assert info["gmacs_after"] < 0.8 * info["gmacs_before"]
    assert sum(p.numel() for p in model.parameters()) == params  # the input model is untouched
    assert sum(p.numel() for p in pruned.parameters()) == info["params_after"]
    head = pruned.model[-1]
    assert isinstance(head, Detect) and head.nc == 2 and head.reg_max == 16  # the head layout is kept
    assert any(isinstance(m, A2C2f) for m in pruned.modules())  # attention blocks kept (AAttn ignored)
    in_head = {id(m) for m in head.modules()}
    body = [m for m in pruned.modules() if isinstance(m, torch.nn.Conv2d) and m.groups == 1 and id(m) not in in_head]
    assert all(c.out_channels % 8 == 0 for c in body)  # round_to=8
    with torch.no_grad():
        out = pruned(torch.rand(1, 3, 96, 96))[0]
    assert out.shape == (1, 6, 12 * 12 + 6 * 6 + 3 * 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("ratio", [0.01, 0.95, -0.3, "0.3"])
def test_impossible_ratio(ratio):
    from exporters.prune import prune_model

    with pytest.raises(InputError, match="ratio: expected a pruning ratio between 0.05 and 0.9"):
        prune_model(object(), ratio)  # checked before the model is touched


@pytest.mark.slow
def test_prune_finetune_and_reload_in_fresh_process(pruned_pt, yolo11_pt):
    from exporters.source import inspect_source

    src = inspect_source(pruned_pt)
    record = src.pruning
    assert src.family == "yolo11" and src.names == ("rect", "disc")
    assert record["ratio"] == 0.3 and record["finetune"]["epochs"] == 1
    assert record["finetune"]["distilled_from"] == yolo11_pt.name  # the student came out of the wrapper
    assert record["source_sha256"] == inspect_source(yolo11_pt).sha256
    assert record["split_free_blocks"] == 8
    assert record["params_after"] < 0.8 * record["params_before"] and record["gmacs_after"] < 0.8 * record["gmacs_before"]
    assert sorted(p.name for p in pruned_pt.parent.glob("*.partial")) == []  # nothing half-written left
    out = pruned_pt
    code = (
        "import sys, torch; from ultralytics import YOLO; m = YOLO(sys.argv[1]); "
        "y = m.model.float().eval()(torch.zeros(1, 3, 64, 64))[0]; "
        "print(m.task, 'x'.join(map(str, y.shape)), m.model.bench_pruning['params_after'])"
    )
    env = {**os.environ, "YOLO_OFFLINE": "true", "YOLO_AUTOINSTALL": "false"}
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].split() == ["detect", "1x6x84", str(record["params_after"])]


def test_prune_needs_data_to_finetune(yolo11_pt, tmp_path):
    from exporters.finetune import prune_and_finetune

    with pytest.raises(InputError, match="expected a dataset YAML"):
        prune_and_finetune(yolo11_pt, 0.3, out=tmp_path / "p.pt", data_yaml=None, epochs=3)
    assert not (tmp_path / "p.pt").exists()


def test_progress_reports_finetune_epochs(yolo11_pt, data_yaml, tmp_path, monkeypatch):
    """The progress callback sees every fine-tuning epoch (the trainer itself is replaced by a stub)."""
    import torch

    from exporters import finetune as ft

    seen = []

    class StubTrainer:
        def __init__(self, overrides):
            self.overrides, self.callbacks = overrides, []
            self.best = self.last = tmp_path / "missing.pt"

        def add_callback(self, event, fn):
            assert event == "on_train_epoch_end"
            self.callbacks.append(fn)

        def train(self):
            assert self.pruned_model is not None and self.overrides["amp"] is False
            for epoch in range(self.overrides["epochs"]):
                self.epoch = epoch
                for fn in self.callbacks:
                    fn(self)

    monkeypatch.setattr(ft, "_trainer_class", lambda: StubTrainer)
    with pytest.raises(BenchError, match="fine-tuning finished without writing a checkpoint"):
        ft.finetune(torch.nn.Conv2d(1, 1, 1), data_yaml=data_yaml, epochs=3, imgsz=64,
                    progress=lambda *a: seen.append(a))
    assert seen == [("finetune", 1, 3), ("finetune", 2, 3), ("finetune", 3, 3)]
