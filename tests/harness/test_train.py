"""`bench train`: the teacher is checked before any training, --workdir/--resume plumbing, and (slow) a tiny
distillation that is interrupted, resumed and finalized into a plain student that reloads and exports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def random_checkpoint(cfg: str, path: Path, names, *, imgsz: int = 32) -> Path:
    """A random-weight detection checkpoint with the given class names (offline)."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from exporters.finetune import save_checkpoint

    torch.manual_seed(0)
    model = DetectionModel(cfg, nc=len(names), verbose=False)
    model.names = dict(enumerate(names))
    model.task = "detect"
    save_checkpoint(model.eval(), path, train_args={"imgsz": imgsz})
    return path


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    from harness.data.synth import write_dataset

    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, n_train=4, n_val=2)
    return root / "data.yaml"


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    from harness.data.synth import CLASS_NAMES

    root = tmp_path_factory.mktemp("teachers")
    return {
        "s": random_checkpoint("yolo11s.yaml", root / "yolo11s.pt", CLASS_NAMES),
        "n": random_checkpoint("yolo11n.yaml", root / "yolo11n-teacher.pt", CLASS_NAMES),
        "s-2cls": random_checkpoint("yolo11s.yaml", root / "two-classes.pt", ["rect", "disc"]),
    }


def _train(capsys, *argv):
    code = main(["train", *map(str, argv)])
    captured = capsys.readouterr()
    return code, [ln for ln in captured.err.strip().splitlines() if ln.startswith("bench:")], captured


# ------------------------------------------------------------------------------- bad input

def test_missing_teacher_is_one_line(tmp_path, capsys):
    code, err, _ = _train(capsys, "--teacher", tmp_path / "nope.pt", "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1
    assert "nope.pt" in err[0] and "no such file" in err[0]
    assert not (tmp_path / "out").exists()


def test_corrupt_teacher_is_one_line(tmp_path, capsys, synth):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    code, err, _ = _train(capsys, "--teacher", bad, "--data", synth, "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1 and str(bad) in err[0] and "checkpoint" in err[0]
    assert not (tmp_path / "out").exists()


def test_classification_teacher_is_refused(tmp_path, capsys, synth):
    from ultralytics.nn.tasks import ClassificationModel

    from exporters.finetune import save_checkpoint

    model = ClassificationModel("yolo11n-cls.yaml", nc=6, verbose=False)
    model.task = "classify"
    path = tmp_path / "cls.pt"
    save_checkpoint(model, path)
    code, err, _ = _train(capsys, "--teacher", path, "--data", synth, "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1 and str(path) in err[0] and "detect" in err[0]


def test_teacher_with_other_classes_names_both_lists(tmp_path, capsys, synth, teachers):
    code, err, _ = _train(capsys, "--teacher", teachers["s-2cls"], "--data", synth, "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1
    line = err[0]
    assert str(teachers["s-2cls"]) in line and str(synth) in line
    assert "'circle'" in line and "'rect'" in line and "6 classes" in line and "2 classes" in line
    assert not (tmp_path / "out").exists()


def test_teacher_smaller_than_student_is_refused(tmp_path, capsys, synth, teachers):
    code, err, _ = _train(capsys, "--arch", "yolo11s", "--teacher", teachers["n"], "--data", synth,
                          "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1 and "larger than the yolo11s student" in err[0]


def test_same_size_teacher_only_warns(capsys, synth, teachers):
    from harness.data.synth import CLASS_NAMES
    from harness.reference.train import check_teacher

    info = check_teacher(teachers["n"], names=CLASS_NAMES, data_yaml=synth, student_arch="yolo11n")
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("bench: warning:") and "self-distillation" in warning[0]
    assert info["arch"] == "yolo11n" and info["path"] == "yolo11n-teacher.pt" and len(info["sha256"]) == 64
    assert info["val_map50_95"] is None and "no yolo11n-teacher.json" in info["val_map50_95_source"]


def test_teacher_json_gives_its_val_map_only_when_it_describes_the_file(tmp_path, capsys, synth, teachers):
    import shutil

    from harness.data.synth import CLASS_NAMES
    from harness.reference.train import check_teacher
    from common.hashing import file_sha256

    teacher = tmp_path / "t.pt"
    shutil.copyfile(teachers["s"], teacher)
    meta = {"sha256": file_sha256(teacher), "arch": "yolo11s", "val": {"map50_95": 0.7, "protocol": "p"}}
    teacher.with_suffix(".json").write_text(json.dumps(meta))
    info = check_teacher(teacher, names=CLASS_NAMES, data_yaml=synth, student_arch="yolo11n")
    assert info["val_map50_95"] == 0.7 and capsys.readouterr().err == ""
    teacher.with_suffix(".json").write_text(json.dumps({**meta, "sha256": "0" * 64}))
    info = check_teacher(teacher, names=CLASS_NAMES, data_yaml=synth, student_arch="yolo11n")
    assert info["val_map50_95"] is None and "describes another file" in info["val_map50_95_source"]


@pytest.mark.parametrize("argv, needle", [
    (["--resume"], "--resume without --workdir"),
    (["--epochs", "0"], "--epochs"),
    (["--imgsz", "100"], "--imgsz"),
    (["--arch", "yolo8x"], "--arch"),
    (["--threads", "0"], "--threads"),
    (["--dis", "2"], "--dis without --teacher"),
    (["--dis", "0", "--teacher", "t.pt"], "a distillation loss weight > 0"),
    (["--dis", "nan", "--teacher", "t.pt"], "a distillation loss weight > 0"),
])
def test_argument_errors(tmp_path, capsys, argv, needle):
    code, err, _ = _train(capsys, *argv, "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_resume_without_last_pt(tmp_path, capsys):
    code, err, _ = _train(capsys, "--resume", "--workdir", tmp_path / "w")
    assert code == 2 and len(err) == 1 and str(tmp_path / "w" / "train" / "weights" / "last.pt") in err[0]


def _fake_interrupted(workdir: Path, plan: dict) -> None:
    (workdir / "train" / "weights").mkdir(parents=True)
    (workdir / "train" / "weights" / "last.pt").write_bytes(b"checkpoint of an interrupted run")
    (workdir / "bench-train.json").write_text(json.dumps(plan))


def test_workdir_with_a_training_is_not_overwritten(tmp_path, capsys, synth):
    workdir = tmp_path / "w"
    _fake_interrupted(workdir, {"plan_version": 1})
    code, err, _ = _train(capsys, "--workdir", workdir, "--data", synth, "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1 and "--resume" in err[0] and "last.pt" in err[0]
    assert (workdir / "train" / "weights" / "last.pt").read_bytes() == b"checkpoint of an interrupted run"


def test_resume_refuses_options_that_contradict_the_recorded_training(tmp_path, capsys, synth):
    workdir = tmp_path / "w"
    _fake_interrupted(workdir, {"plan_version": 1, "arch": "yolo11s", "epochs": 40, "imgsz": 320, "batch": 16,
                                "seed": 0, "name": "yolo11s", "teacher": None, "data": None,
                                "data_yaml": str(synth), "out": str(tmp_path / "out")})
    code, err, _ = _train(capsys, "--resume", "--workdir", workdir, "--epochs", "10")
    assert code == 2 and len(err) == 1 and err[0].startswith("bench: error: --epochs:") and "40" in err[0]
    code, err, _ = _train(capsys, "--resume", "--workdir", workdir, "--dis", "2")  # the plan has Ultralytics' default
    assert code == 2 and len(err) == 1 and err[0].startswith("bench: error: --dis:")
    assert "no --dis (the default) as recorded" in err[0] and "None" not in err[0]
    code, err, _ = _train(capsys, "--resume", "--workdir", workdir)  # an unreadable last.pt: one line too
    assert code == 2 and len(err) == 1 and "last.pt" in err[0]
    assert (workdir / "train" / "weights" / "last.pt").read_bytes() == b"checkpoint of an interrupted run"


def test_dis_reaches_ultralytics_only_when_given(tmp_path):
    from harness.reference.train import _train_settings

    plan = {"data_yaml": "d.yaml", "imgsz": 320, "epochs": 40, "batch": 16, "seed": 0, "workers": 2,
            "teacher": "/m/yolo11s.pt"}
    assert "dis" not in _train_settings(plan, tmp_path)  # a plan written before --dis: Ultralytics' default
    assert _train_settings({**plan, "dis": None}, tmp_path)["distill_model"] == "/m/yolo11s.pt"
    assert "dis" not in _train_settings({**plan, "dis": None}, tmp_path)
    assert _train_settings({**plan, "dis": 1.5}, tmp_path)["dis"] == 1.5
    assert "dis" not in _train_settings({**plan, "teacher": None, "dis": None}, tmp_path)


def test_baseline_comparison_lists_differences(tmp_path, monkeypatch):
    from harness.reference.train import COMPARED, find_baseline

    student = {"epochs": 40, "imgsz": 320, "batch": 16, "seed": 0, "data": {"data_yaml": "synthetic", "synth": None}}
    missing = find_baseline("yolo12s", tmp_path, student)  # nothing shipped under that name either
    assert missing["found"] is False and "bench train --arch yolo12s" in missing["reason"]
    meta = {"name": "yolo12s", "arch": "yolo12s", "sha256": "a" * 64, "val": {"map50_95": 0.5},
            "train": {"epochs": 30, "imgsz": 320, "batch": 16, "seed": 0}, "data": student["data"], "teacher": None}
    (tmp_path / "yolo12s.json").write_text(json.dumps(meta))
    found = find_baseline("yolo12s", tmp_path, student)
    assert found["found"] and found["val_map50_95"] == 0.5 and found["compared_settings"] == list(COMPARED)
    assert found["settings_identical"] is False
    assert found["differences"] == {"epochs": {"baseline": 30, "student": 40}}
    assert found["weights_match_json"] is None  # no yolo12s.pt beside it
    assert found["json"] == "yolo12s.json"  # beside the student: by name, no machine's folder in a shipped JSON
    monkeypatch.setattr("harness.reference.train.MODELS_DIR", tmp_path)  # found in the shipped folder instead
    elsewhere = find_baseline("yolo12s", tmp_path / "students", student)
    assert elsewhere["found"] and elsewhere["json"] == str(tmp_path / "yolo12s.json")
    meta["train"]["epochs"] = 40
    (tmp_path / "yolo12s.json").write_text(json.dumps(meta))
    assert find_baseline("yolo12s", tmp_path, student)["settings_identical"] is True
    (tmp_path / "yolo12s.json").write_text(json.dumps({**meta, "teacher": {"path": "t.pt"}}))
    assert "not describe a plain" in find_baseline("yolo12s", tmp_path, student)["reason"]


# --------------------------------------------------------------------- a real, tiny distillation

@pytest.mark.slow
def test_distill_interrupt_resume_reload_export(tmp_path, capsys, synth, teachers, monkeypatch):
    """Teacher yolo11s -> student yolo11n, 2 epochs at 32 px on 4 images, killed after epoch 1 and resumed."""
    from harness.reference import train

    out, workdir = tmp_path / "out", tmp_path / "w"
    watch = train._watch_distillation

    def interrupt_after_first_epoch(model, facts):
        watch(model, facts)

        def stop(trainer):
            if trainer.epoch == 0:
                raise KeyboardInterrupt

        model.add_callback("on_model_save", stop)

    argv = ["--arch", "yolo11n", "--teacher", teachers["s"], "--data", synth, "--epochs", 2, "--imgsz", 32,
            "--batch", 2, "--workers", 0, "--workdir", workdir, "--out", out, "--dis", 2.5]
    # the plain yolo11n baseline, trained with the same settings (only its JSON is read)
    out.mkdir()
    data = {"data_yaml": str(synth.resolve()), "synth": json.loads((synth.parent / "synth.json").read_text())}
    (out / "yolo11n.json").write_text(json.dumps({
        "name": "yolo11n", "arch": "yolo11n", "sha256": "b" * 64, "teacher": None, "data": data,
        "train": {"epochs": 2, "imgsz": 32, "batch": 2, "seed": 0}, "val": {"map50_95": 0.0}}))
    monkeypatch.setattr(train, "_watch_distillation", interrupt_after_first_epoch)
    code, err, _ = _train(capsys, *argv)
    assert code == 130
    last = workdir / "train" / "weights" / "last.pt"
    assert last.is_file() and not (out / "yolo11n-student.pt").exists()
    # the interrupted checkpoint holds the distillation wrapper and the optimizer: finalizing it would
    # keep only the student (a DetectionModel, no teacher, no projector)
    import torch

    mid = torch.load(last, map_location="cpu", weights_only=False)
    assert type(mid["ema"]).__name__ == "DistillationModel" and mid["optimizer"] is not None
    (tmp_path / "strip").mkdir()
    stripped = train._plain_checkpoint(last, tmp_path / "strip")
    assert stripped != last and train.checkpoint_contents(stripped)["class"] == "DetectionModel"
    assert stripped.stat().st_size < last.stat().st_size / 3
    with pytest.raises(Exception, match="expected a plain DetectionModel"):
        train.checkpoint_contents(last)
    monkeypatch.setattr(train, "_watch_distillation", watch)

    epoch_threads = []

    def record_threads(model, facts):
        watch(model, facts)
        model.add_callback("on_train_epoch_end", lambda trainer: epoch_threads.append(torch.get_num_threads()))

    monkeypatch.setattr(train, "_watch_distillation", record_threads)
    before = torch.get_num_threads()
    try:
        code, err, captured = _train(capsys, "--resume", "--workdir", workdir, "--threads", 3)
    finally:
        torch.set_num_threads(before)
    assert epoch_threads == [3]  # the resumed second epoch ran on 3 threads, not Ultralytics' cores - 1
    assert code == 0, captured.err[-2000:]
    assert not [ln for ln in err if "warning" in ln]  # a like-for-like baseline and a larger teacher
    student = out / "yolo11n-student.pt"
    meta = json.loads(student.with_suffix(".json").read_text())
    from common.hashing import file_sha256

    assert meta["sha256"] == file_sha256(student)
    assert meta["teacher"]["path"] == "yolo11s.pt" and meta["teacher"]["sha256"] == file_sha256(teachers["s"])
    assert meta["teacher"]["arch"] == "yolo11s"
    d = meta["distillation"]
    assert d["teacher_trainable_params"] == 0 and d["teacher_eval_mode"] is True
    assert d["teacher_weights_unchanged"] is True
    assert d["student_layers"] == d["teacher_layers"] and len(d["student_layers"]) == 4
    assert d["dis"] == 2.5 and meta["train"]["dis"] == 2.5  # --dis reached the loss (and survived the resume)
    assert meta["environment"]["resumed"] is True and meta["train"]["epochs"] == 2
    assert meta["environment"]["torch_threads"] == 3
    assert meta["contents"]["class"] == "DetectionModel" and meta["contents"]["teacher_included"] is False
    assert meta["contents"]["params"] < d["teacher_params"] / 2
    assert meta["baseline"]["json"] == "yolo11n.json" and meta["baseline"]["settings_identical"] is True

    # a fresh process reloads it with plain Ultralytics, as a DetectionModel without the teacher
    code = ("import sys; from ultralytics import YOLO; m = YOLO(sys.argv[1]); "
            "print(type(m.model).__name__, hasattr(m.model, 'teacher_model'), len(m.names))")
    done = subprocess.run([sys.executable, "-c", code, str(student)], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "YOLO_OFFLINE": "true", "YOLO_AUTOINSTALL": "false"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["DetectionModel", "False", "6"]

    # and exports offline as the student variants of a model with the same classes
    from exporters.build import build_variant

    for variant in ("student", "student-int8"):
        art = build_variant(teachers["s"], variant, cache_dir=tmp_path / "cache", imgsz=32, data_yaml=synth,
                            calib_images=2, options={"student_source": student})
        assert art.path.is_file() and art.manifest["variant"]["kind"] == "student"


def _results_csv(workdir: Path, values) -> None:
    (workdir / "train").mkdir(parents=True)
    head = "                  epoch,  metrics/mAP50(B),  metrics/mAP50-95(B)\n"  # Ultralytics pads its header
    rows = "".join(f"{i + 1},{v + 0.2:.5f},{v:.5f}\n" for i, v in enumerate(values))
    (workdir / "train" / "results.csv").write_text(head + rows)


def test_val_curve_is_read_from_the_training_log(tmp_path):
    from harness.reference.train import val_curve

    _results_csv(tmp_path, [0.1, 0.2, 0.3])
    assert val_curve(tmp_path) == [{"epoch": 1, "map50_95": 0.1, "map50": 0.3}, {"epoch": 2, "map50_95": 0.2, "map50": 0.4},
                                   {"epoch": 3, "map50_95": 0.3, "map50": 0.5}]
    assert val_curve(tmp_path / "none") == []


def test_plateau_judges_the_fitted_rise_of_the_last_epochs(tmp_path):
    from harness.reference.train import plateau, val_curve

    rising = [0.60 + 0.001 * i for i in range(15)]  # +0.1 point per epoch: 0.9 points over 10 epochs
    _results_csv(tmp_path / "a", rising)
    verdict = plateau(val_curve(tmp_path / "a"))
    assert (verdict["rise_points"], verdict["flat"], verdict["first_epoch"], verdict["last_epoch"]) == (0.9, False, 6, 15)
    noisy_flat = [0.7, 0.702, 0.699, 0.701, 0.7, 0.698, 0.702, 0.7, 0.701, 0.699, 0.7]
    _results_csv(tmp_path / "b", noisy_flat)
    verdict = plateau(val_curve(tmp_path / "b"))
    assert verdict["flat"] and verdict["spread_points"] == 0.4
    assert plateau(val_curve(tmp_path / "b")[:5]) is None  # fewer epochs than the window: no verdict


def test_finalizing_a_finished_training_again_keeps_its_measured_time(tmp_path):
    from harness.reference.train import _earlier_environment

    meta = tmp_path / "m.json"
    meta.write_text(json.dumps({"sha256": "abc", "environment": {"train_seconds": 8809.6, "torch_threads": 2,
                                                                 "resumed": False, "python": "3.11"}}))
    assert _earlier_environment(meta, "abc") == {"train_seconds": 8809.6, "torch_threads": 2, "resumed": False}
    assert _earlier_environment(meta, "other weights") == {}
    assert _earlier_environment(tmp_path / "missing.json", "abc") == {}
    meta.write_text("{not json")
    assert _earlier_environment(meta, "abc") == {}
