"""A derived model's record: the per-epoch val curve, its plateau, and the JSON prune_cli writes beside the .pt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import BenchError
from exporters import prune_cli
from exporters.training_record import PLATEAU_WINDOW, continuation, plateau, read_val_curve

# the columns Ultralytics 8.4 writes (older versions pad each header name with spaces, as here)
COLUMNS = ("epoch", "time", "train/box_loss", "train/cls_loss", "train/dfl_loss", "metrics/precision(B)",
           "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "val/box_loss", "val/cls_loss",
           "val/dfl_loss", "lr/pg0", "lr/pg1", "lr/pg2")


def write_results_csv(path: Path, map50_95: list[float], *, pad: bool = True) -> Path:
    """A results.csv as Ultralytics writes it, one row an epoch; mAP50 is mAP50-95 + 0.2."""
    head = ",".join(f"{c:>23}" if pad else c for c in COLUMNS)
    values = [(i + 1, 12.5 * (i + 1), 1.2, 2.3, 1.1, 0.8, 0.7, round(m + 0.2, 6), m, 1.0, 2.0, 1.0, 0.01, 0.01, 0.01)
              for i, m in enumerate(map50_95)]
    rows = [",".join(f"{v:>23}" if pad else str(v) for v in row) for row in values]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([head, *rows]) + "\n")
    return path


@pytest.mark.parametrize("pad", [True, False])
def test_val_curve_is_read_from_ultralytics_results_csv(tmp_path, pad):
    csv = write_results_csv(tmp_path / "results.csv", [0.1, 0.2, 0.312345678], pad=pad)
    assert read_val_curve(csv) == [{"epoch": 1, "map50_95": 0.1, "map50": 0.3},
                                   {"epoch": 2, "map50_95": 0.2, "map50": 0.4},
                                   {"epoch": 3, "map50_95": 0.31235, "map50": 0.51235}]
    assert read_val_curve(tmp_path / "missing.csv") == []


def test_rows_without_val_metrics_are_left_out(tmp_path):
    csv = tmp_path / "results.csv"
    csv.write_text("epoch,time,train/box_loss\n1,3.0,1.2\n2,6.0,1.1\n")  # a training that logged no val
    assert read_val_curve(csv) == []


def test_plateau_of_a_parsed_curve(tmp_path):
    flat = read_val_curve(write_results_csv(tmp_path / "a.csv", [0.2, 0.4, 0.5] + [0.7, 0.701, 0.699] * 3 + [0.7]))
    verdict = plateau(flat)
    assert (verdict["first_epoch"], verdict["last_epoch"], verdict["window_epochs"]) == (4, 13, PLATEAU_WINDOW)
    assert verdict["flat"] and verdict["spread_points"] == 0.2 and abs(verdict["rise_points"]) <= 0.3
    rising = read_val_curve(write_results_csv(tmp_path / "b.csv", [0.5 + 0.002 * i for i in range(10)]))
    assert plateau(rising)["rise_points"] == 1.8 and not plateau(rising)["flat"]
    assert plateau(rising[:PLATEAU_WINDOW - 1]) is None  # fewer epochs than the window: no verdict


def test_plateau_rise_carries_its_standard_error():
    import numpy as np

    rising = [{"epoch": i, "map50_95": 0.5 + 0.002 * i} for i in range(12)]
    assert plateau(rising)["rise_se_points"] == 0.0  # on the line: nothing left to scatter
    ys = [0.84, 0.836, 0.839, 0.845, 0.846, 0.845, 0.847, 0.847, 0.846, 0.849]
    verdict = plateau([{"epoch": 141 + i, "map50_95": y} for i, y in enumerate(ys)])
    coef, cov = np.polyfit(np.arange(10), ys, 1, cov=True)  # an independent fit: numpy's covariance of the slope
    assert verdict["rise_points"] == round(100 * coef[0] * 9, 2)
    assert verdict["rise_se_points"] == round(100 * float(np.sqrt(cov[0, 0])) * 9, 2) > 0


def test_the_level_step_reads_a_dip_and_its_recovery_as_level_where_the_fitted_rise_does_not():
    """The close_mosaic pattern: a flat level, then the last window's first epoch drops and the rest climb back.
    The fitted rise over that window calls it rising; the mean of the window against the window before does not."""
    import statistics

    before = [0.845, 0.843, 0.847, 0.844, 0.846, 0.845, 0.844, 0.846, 0.845, 0.845]
    last = [0.836, 0.838, 0.840, 0.842, 0.844, 0.846, 0.847, 0.848, 0.849, 0.850]
    verdict = plateau([{"epoch": i + 1, "map50_95": y} for i, y in enumerate(before + last)])
    assert not verdict["flat"] and verdict["rise_points"] > 1
    step = 100 * (statistics.mean(last) - statistics.mean(before))
    se = 100 * (statistics.variance(before) / 10 + statistics.variance(last) / 10) ** 0.5  # an independent formula
    assert verdict["step_points"] == round(step, 2) and verdict["step_se_points"] == round(se, 2)
    assert verdict["step_flat"] and abs(step) <= 0.3
    rising = [{"epoch": i, "map50_95": 0.5 + 0.002 * i} for i in range(20)]
    assert plateau(rising)["step_points"] == 2.0 and not plateau(rising)["step_flat"]
    assert "step_points" not in plateau(rising[:19])  # fewer than two windows: the fitted rise alone


def test_bench_train_uses_the_same_functions():
    from exporters import training_record
    from harness.reference import train

    assert train.plateau is training_record.plateau
    assert train.PLATEAU_WINDOW == training_record.PLATEAU_WINDOW
    assert train.PLATEAU_POINTS == training_record.PLATEAU_POINTS


def test_finetune_validates_every_epoch_and_records_the_curve(data_yaml, tmp_path, monkeypatch):
    """The trainer (a stub here) gets val=True and no early stopping; the curve comes from its results.csv."""
    import torch

    from exporters import finetune as ft

    seen = {}

    class StubTrainer:
        def __init__(self, overrides):
            self.overrides = overrides
            seen.update(overrides)
            self.save_dir = Path(overrides["project"]) / overrides["name"]
            self.csv, self.last = self.save_dir / "results.csv", self.save_dir / "weights" / "last.pt"
            self.metrics = {"metrics/mAP50-95(B)": 0.3}

        def train(self):
            write_results_csv(self.csv, [0.1, 0.2, 0.3][: self.overrides["epochs"]])
            self.last.parent.mkdir(parents=True)
            torch.save({"ema": torch.nn.Conv2d(1, 1, 1)}, self.last)

    monkeypatch.setattr(ft, "_trainer_class", lambda: StubTrainer)
    _, record = ft.finetune(torch.nn.Conv2d(1, 1, 1), data_yaml=data_yaml, epochs=3, imgsz=64, val_curve=True)
    assert seen["val"] is True and seen["patience"] == 0  # per-epoch val, and it never stops the training
    assert record["val_curve"] == [{"epoch": 1, "map50_95": 0.1, "map50": 0.3},
                                   {"epoch": 2, "map50_95": 0.2, "map50": 0.4},
                                   {"epoch": 3, "map50_95": 0.3, "map50": 0.5}]
    assert record["checkpoint"] == "last epoch (EMA)" and record["val_metrics"] == {"metrics/mAP50-95(B)": 0.3}

    # bench run's own on-the-fly builds: the last epoch is validated (Ultralytics always does), no per-epoch pass
    seen.clear()
    _, record = ft.finetune(torch.nn.Conv2d(1, 1, 1), data_yaml=data_yaml, epochs=3, imgsz=64)
    assert seen["val"] is False and seen["patience"] == 0
    assert record["val_curve"] is None and record["val_metrics"] == {"metrics/mAP50-95(B)": 0.3}


def _pruning_record(curve, epochs):
    finetune = {"epochs": epochs, "data_yaml": "/abs/where/data.yaml", "imgsz": 64, "batch": 4,
                "checkpoint": "last epoch (EMA)", "distilled_from": None, "val_metrics": {}, "val_curve": curve}
    return {"ratio": 0.3, "family": "yolo11", "example_imgsz": 64, "source_file": "yolo11n.pt",
            "source_sha256": "ab" * 32,
            "params_before": 100, "params_after": 60, "gmacs_before": 1.0, "gmacs_after": 0.6, "split_free_blocks": 8,
            "finetune": finetune if epochs else {"epochs": 0}}


def _meta(out, record, **kw):
    args = {"command": "python -m exporters.prune_cli --model m.pt --ratio 0.3 --data d/data.yaml --out x.pt",
            "data_yaml": Path("d/data.yaml"), "val": {"map50_95": 0.5, "map50": 0.7, "precision": 0.8, "recall": 0.6,
                                                     "protocol": prune_cli.VAL_PROTOCOL},
            "val_absent": None, "environment": {"torch": "x"}} | kw
    return prune_cli.model_meta(out, record, **args)


def test_json_of_a_pruned_model_has_every_key(tmp_path):
    out = tmp_path / "m-pruned30.pt"
    out.write_bytes(b"weights")
    curve = [{"epoch": i + 1, "map50_95": 0.5, "map50": 0.7} for i in range(12)]
    path = prune_cli.write_model_json(out, _meta(out, _pruning_record(curve, 12)))
    meta = json.loads(path.read_text())
    assert path == tmp_path / "m-pruned30.json" and sorted(meta) == sorted(
        ["meta_version", "name", "arch", "family", "sha256", "size_bytes", "imgsz", "derived_from", "kind", "finetune",
         "plateau", "command", "val", "environment", "pruning"])
    from common.hashing import file_sha256

    assert (meta["name"], meta["arch"], meta["family"], meta["imgsz"]) == ("m-pruned30", None, "yolo11", 64)
    assert (meta["sha256"], meta["size_bytes"]) == (file_sha256(out), 7)
    assert meta["derived_from"] == {"file": "yolo11n.pt", "sha256": "ab" * 32}
    assert meta["kind"] == "pruned 30% + fine-tuned"
    assert "data_yaml" not in meta["finetune"] and meta["finetune"]["data"] == "d/data.yaml"  # the path as given
    assert meta["finetune"]["val_curve"] == curve and meta["plateau"]["flat"] and meta["plateau"]["last_epoch"] == 12
    assert meta["command"].startswith("python -m exporters.prune_cli --model m.pt")
    assert meta["val"]["map50_95"] == 0.5 and meta["val"]["protocol"] == prune_cli.VAL_PROTOCOL
    assert meta["pruning"] == {"ratio": 0.3, "params_before": 100, "params_after": 60, "gmacs_before": 1.0,
                               "gmacs_after": 0.6}
    assert meta["environment"] == {"torch": "x"} and meta["meta_version"] == 1


def test_json_of_the_control_short_curve_and_skipped_val(tmp_path):
    out = tmp_path / "m-ft3.pt"
    out.write_bytes(b"w")
    short = [{"epoch": 1, "map50_95": 0.1, "map50": 0.2}]
    record = {"kind": "fine-tune control (no pruning)", "source_file": "m.pt", "source_sha256": "cd" * 32,
              "family": "yolo11", "arch": "yolo11n", "finetune": _pruning_record(short, 3)["finetune"]}
    meta = _meta(out, record, val=None, val_absent="not run (--no-val)", data_yaml=Path("/abs/where/data.yaml"))
    assert meta["kind"] == "fine-tune control (unpruned)" and meta["arch"] == "yolo11n" and "pruning" not in meta
    assert meta["plateau"] is None  # fewer epochs than the plateau window
    assert meta["val"] is None and meta["val_absent"] == "not run (--no-val)"
    assert meta["finetune"]["data"] == "data.yaml"  # never this machine's absolute path
    assert "/abs/where" not in json.dumps(meta)


def test_json_of_a_model_pruned_without_finetuning_says_there_is_no_curve(tmp_path):
    out = tmp_path / "m-pruned30.pt"
    out.write_bytes(b"w")
    meta = _meta(out, _pruning_record(None, 0), data_yaml=None)
    assert meta["kind"] == "pruned 30% (not fine-tuned)" and meta["finetune"]["val_curve"] is None
    assert "--epochs 0" in meta["finetune"]["val_curve_absent"] and meta["plateau"] is None


def test_synthetic_data_is_named_by_its_seed(tmp_path):
    (tmp_path / "synth.json").write_text('{"seed": 3}')
    assert prune_cli.data_label(tmp_path / "data.yaml") == "synthetic (bench data synth, seed 3)"


def test_a_failing_json_write_leaves_no_partial_file_and_keeps_the_pt(tmp_path, monkeypatch):
    out = tmp_path / "m.pt"
    out.write_bytes(b"weights")
    meta = _meta(out, _pruning_record(None, 0))
    real = Path.write_bytes

    def half_then_fail(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    with pytest.raises(BenchError, match=r"m\.json: not written \(OSError.*m\.pt is kept"):
        prune_cli.write_model_json(out, meta)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"] and out.read_bytes() == b"weights"


@pytest.mark.slow
def test_prune_cli_writes_the_json_with_a_val_curve(yolo11_pt, data_yaml, tmp_path, capsys):
    """End to end on the tiny random model and dataset: 2 fine-tuning epochs, each validated."""
    out = tmp_path / "tiny-pruned30.pt"
    argv = ["--model", str(yolo11_pt), "--ratio", "0.3", "--data", str(data_yaml), "--epochs", "2", "--imgsz", "64",
            "--batch", "4", "--out", str(out)]
    assert prune_cli.main(argv) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1].endswith(f"-> {out.with_suffix('.json')}")
    assert printed[-2] == "tiny-pruned30: no plateau verdict: 2 epochs, fewer than the 10 it is judged over"
    meta = json.loads(out.with_suffix(".json").read_text())
    assert [c["epoch"] for c in meta["finetune"]["val_curve"]] == [1, 2]
    assert all(0 <= c["map50_95"] <= c["map50"] <= 1 for c in meta["finetune"]["val_curve"])
    assert meta["plateau"] is None and meta["kind"] == "pruned 30% + fine-tuned"
    assert meta["command"] == "python -m exporters.prune_cli " + " ".join(argv)
    assert 0 <= meta["val"]["map50_95"] <= 1 and meta["pruning"]["params_after"] < meta["pruning"]["params_before"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-pruned30.json", "tiny-pruned30.pt"]


def test_json_of_a_distilled_finetune_names_its_teacher_and_classes(tmp_path):
    """prune_cli --control --teacher: the student's JSON carries what bench run's student discovery reads
    (classes, the teacher's file and hash) and the teacher record as the fine-tune checked it."""
    out = tmp_path / "m-student.pt"
    out.write_bytes(b"w")
    teacher = {"path": "big.pt", "sha256": "ab" * 32, "arch": "yolo11s", "family": "yolo11", "params": 9,
               "val_map50_95": 0.9, "val_map50_95_source": "big.json: p"}
    finetune = {**_pruning_record(None, 3)["finetune"], "distilled_from": "big.pt", "dis": 1.0}
    record = {"kind": "distilled fine-tune (student)", "source_file": "m.pt", "source_sha256": "cd" * 32,
              "family": "yolo11", "arch": "yolo11n", "names": ["a", "b"], "finetune": finetune, "teacher": teacher}
    meta = _meta(out, record)
    assert meta["kind"] == "distilled fine-tune (a student of big.pt)" and meta["classes"] == ["a", "b"]
    assert meta["teacher"] == teacher
    assert meta["distillation"]["dis"] == 1.0 and "without --teacher" in meta["distillation"]["control"]
    assert meta["derived_from"] == {"file": "m.pt", "sha256": "cd" * 32} and meta["finetune"]["epochs"] == 3


def _src(names=("a", "b"), params=9_000_000, sha="ab" * 32):
    from types import SimpleNamespace

    return SimpleNamespace(names=list(names), params=params, sha256=sha, arch="yolo11s", family="yolo11")


def test_teacher_record_reads_the_teachers_val_only_from_a_json_that_describes_it(tmp_path):
    """One record for bench train's and prune_cli's students: the val from the JSON beside the teacher when
    its SHA-256 is the teacher's, else None and why."""
    from exporters.training_record import teacher_record

    path = tmp_path / "big.pt"
    kw = dict(names=["a", "b"], names_of="the student's", student_params=2_500_000, student_label="student")
    info, caveat = teacher_record(path, _src(), **kw)
    assert caveat is None and info["val_map50_95"] is None
    assert info["val_map50_95_source"] == "no big.json beside the teacher"
    path.with_suffix(".json").write_text(json.dumps({"sha256": "ab" * 32, "arch": "yolo11s-ft",
                                                     "val": {"map50_95": 0.9, "protocol": "p"}}))
    info, _ = teacher_record(path, _src(), **kw)
    assert info == {"path": "big.pt", "sha256": "ab" * 32, "arch": "yolo11s-ft", "family": "yolo11",
                    "params": 9_000_000, "val_map50_95": 0.9, "val_map50_95_source": "big.json: p"}
    info, _ = teacher_record(path, _src(sha="ef" * 32), **kw)
    assert info["val_map50_95"] is None and info["val_map50_95_source"] == "big.json describes another file (sha256 abababababab)"
    path.with_suffix(".json").write_text("{not json")
    assert teacher_record(path, _src(), **kw)[0]["val_map50_95_source"] == "big.json is unreadable"


def test_teacher_record_refuses_other_classes_and_a_smaller_teacher_and_flags_self_distillation(tmp_path):
    from exporters.training_record import teacher_record

    path = tmp_path / "t.pt"
    kw = dict(names_of="the data's", student_params=2_500_000, student_label="yolo11n student", names_where="d.yaml")
    with pytest.raises(BenchError, match=r"t.pt: expected a teacher with the data's 2 classes \['a', 'b'\] \(d.yaml\), "
                                         r"got 1 classes \['a'\]"):
        teacher_record(path, _src(names=["a"]), names=["a", "b"], **kw)
    with pytest.raises(BenchError, match=r"expected a teacher larger than the yolo11n student \(2.50M parameters\), "
                                         r"got 2.00M parameters"):
        teacher_record(path, _src(params=2_000_000), names=["a", "b"], **kw)
    _, caveat = teacher_record(path, _src(params=2_500_000), names=["a", "b"], **kw)
    assert caveat.startswith("the teacher t.pt (2.50M parameters) is not larger than the yolo11n student (2.50M)")


@pytest.mark.parametrize("argv, needle", [
    (["--model", "m.pt", "--ratio", "0.3", "--teacher", "t.pt"], "--teacher: expected --teacher with --control"),
    (["--model", "m.pt", "--control", "--teacher", "nope.pt", "--data", "d.yaml"], "nope.pt: expected an existing"),
    (["--model", "m.pt", "--control", "--dis", "2", "--data", "d.yaml"], "--dis: expected --dis with --teacher"),
    (["--model", "m.pt", "--ratio", "0.3", "--distill", "--dis", "0"], "--dis: expected a distillation weight > 0"),
    (["--model", "m.pt", "--ratio", "0.3", "--threads", "0"], "--threads: expected --threads >= 1"),
])
def test_prune_cli_training_options_are_checked_first(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    assert prune_cli.main([*argv, "--out", "x.pt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("change, needle", [
    ({"derived_from": {"sha256": "other"}}, "expected a fine-tune of the model with sha256 a, got one of sha256 other"),
    ({"val": None}, "expected an Ultralytics val in both JSONs, got none"),
    ({"finetune": None}, "expected the epochs it was fine-tuned (its finetune block), got none"),
])
def test_continuation_refuses_a_json_that_is_not_this_models_continuation(change, needle):
    """One clear line naming the continuation's JSON, never a KeyError, for each way the pair does not fit."""
    meta = {"sha256": "a", "val": {"map50_95": 0.80}}
    good = {"name": "m-ft20", "sha256": "b", "derived_from": {"sha256": "a"}, "finetune": {"epochs": 20},
            "val": {"map50_95": 0.81}}
    assert continuation(meta, good)["gain_points"] == 1.0 and not continuation(meta, good)["flat"]
    with pytest.raises(BenchError) as err:
        continuation(meta, {**good, **change})
    assert str(err.value) == f"m-ft20: {needle}"
