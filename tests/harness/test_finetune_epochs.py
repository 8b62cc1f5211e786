"""``bench run --finetune-epochs``: how long a pruned variant is fine-tuned when no pruned checkpoint is shipped."""

from __future__ import annotations

from pathlib import Path

from harness import worker
from harness.cli import main


def test_negative_epochs_is_one_line_exit_2(capsys):
    assert main(["run", "--finetune-epochs", "-1", "--no-archive"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bench: error: --finetune-epochs: expected an epoch count >= 0, got -1"]


def test_worker_passes_the_epochs_to_the_exporter(monkeypatch, tmp_path):
    seen = {}

    def fake_build(source, spec, **kwargs):
        seen.update(kwargs, spec=spec.name, source=source)
        return "artifact"

    import exporters.build

    monkeypatch.setattr(exporters.build, "build_variant", fake_build)
    build = worker.BuildRequest(source=str(tmp_path / "m.pt"), variant="pruned30", format="onnx", imgsz=320,
                                cache_dir=str(tmp_path), data_yaml=str(tmp_path / "data.yaml"), calib_images=8,
                                options={"finetune_epochs": 3})
    assert worker.build_artifact(build) == "artifact"
    assert seen["options"] == {"finetune_epochs": 3} and seen["spec"] == "pruned30"
    assert seen["source"] == Path(build.source) and build.finetune_epochs == 3


def test_run_options_carry_the_kind_options_to_the_build_request():
    """`bench run --finetune-epochs 3 --calib-method entropy`: one mapping from the CLI to the BuildRequest."""
    from harness.cli import build_parser
    from harness.options import RunOptions

    args = build_parser().parse_args(["run", "--finetune-epochs", "3", "--calib-method", "entropy"])
    opts = RunOptions.from_namespace(args)
    assert opts.variant_options["finetune_epochs"] == 3 and opts.variant_options["calib_method"] == "entropy"
    assert "student_source" not in opts.variant_options  # bench run's own --student is resolved by the plan
