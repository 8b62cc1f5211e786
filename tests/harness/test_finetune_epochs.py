"""``bench run --finetune-epochs``: how long a pruned variant is fine-tuned when no pruned checkpoint is shipped."""

from __future__ import annotations

from pathlib import Path

from harness import worker
from harness.cli import main


def test_negative_epochs_is_one_line_exit_2(capsys):
    assert main(["run", "--finetune-epochs", "-1", "--no-archive"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bench: error: --finetune-epochs: expected 0 or more epochs, got -1"]


def test_worker_passes_the_epochs_to_the_exporter(monkeypatch, tmp_path):
    seen = {}

    def fake_build(source, spec, **kwargs):
        seen.update(kwargs, spec=spec.name, source=source)
        return "artifact"

    import exporters.build

    monkeypatch.setattr(exporters.build, "build_variant", fake_build)
    job = {"variant": "pruned30", "format": "onnx", "source": str(tmp_path / "m.pt"), "cache_dir": str(tmp_path),
           "imgsz": 320, "data_yaml": str(tmp_path / "data.yaml"), "calib_images": 8, "finetune_epochs": 3}
    assert worker._build(job) == "artifact"
    assert seen["finetune_epochs"] == 3 and seen["spec"] == "pruned30" and seen["source"] == Path(job["source"])
    # an older job file without the key leaves the exporter's own default
    del job["finetune_epochs"]
    seen.clear()
    worker._build(job)
    assert "finetune_epochs" not in seen
