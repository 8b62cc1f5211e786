"""`bench run` with a distilled student: which student and teacher are used, the `teacher` row, the student's
drops against the same-size plain FP32 and the teacher's FP32 (record, table), and bad --student/--teacher."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pytest

from harness import plan as run_plan
from harness import student as run_student
from harness.cli import main
from harness.options import RunOptions
from harness.plan import ModelChoice
from common.hashing import file_sha256

NAMES = ["circle", "rectangle", "triangle", "star", "ring", "cross"]


def _shipped(folder: Path, name: str, content: bytes, **meta) -> Path:
    """A stand-in checkpoint with the JSON bench train writes beside it (read instead of loading the file)."""
    path = folder / f"{name}.pt"
    path.write_bytes(content)
    info = {"name": name, "sha256": file_sha256(path), "classes": NAMES, "family": "yolo11", "imgsz": 320, **meta}
    path.with_suffix(".json").write_text(json.dumps(info))
    return path


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A models folder with the plain yolo11n, its distilled student and the student's yolo11s teacher."""
    monkeypatch.setattr("harness.reference.MODELS_DIR", tmp_path)
    plain = _shipped(tmp_path, "yolo11n", b"plain", arch="yolo11n")
    teacher = _shipped(tmp_path, "yolo11s", b"teacher", arch="yolo11s")
    baseline = {"found": True, "name": "yolo11n", "sha256": file_sha256(plain), "settings_identical": True}
    student = _shipped(tmp_path, "yolo11n-student", b"student", arch="yolo11n", baseline=baseline,
                       teacher={"path": "yolo11s.pt", "sha256": file_sha256(teacher)})
    model = ModelChoice(path=plain, kind="pt", name="yolo11n", family="yolo11", imgsz=320, names=tuple(NAMES),
                        sha256=file_sha256(plain), reference="yolo11n", arch="yolo11n")
    return NS(dir=tmp_path, plain=plain, teacher=teacher, student=student, model=model)


def _args(**over):
    return RunOptions(**over)


CPU = NS(runtime=NS(runtime="onnxruntime", providers=("CPUExecutionProvider",)), profile=NS(name="cpu"),
         hardware=NS(runtimes={"onnxruntime": NS(providers=("CPUExecutionProvider",))}),
         skip_reason=lambda precision, fmt=None: "slow" if precision == "fp16" else None,
         force_runs=lambda precision, fmt=None: True)


def test_default_run_adds_the_shipped_student_and_its_teacher_row(shipped):
    args = _args()
    assert run_student.wants_student(args, shipped.model)
    setup = run_student.resolve_student(args, shipped.model)
    assert setup.path == shipped.student and setup.teacher == shipped.teacher
    assert setup.teacher_reason is None and setup.plain_reason is None and setup.plain_note is None
    plan = run_plan.plan_variants(args, shipped.model, CPU, setup)
    assert [r.name for r in plan] == ["fp32", "fp16", "int8", "pruned30", "student", "teacher"]
    teacher_row = plan[-1]
    assert teacher_row.source == shipped.teacher and teacher_row.spec.name == "fp32" and teacher_row.reason is None
    assert all(r.source == shipped.plain for r in plan[:-1])
    images = (str(shipped.dir / "val" / "a.jpg"), str(shipped.dir / "val" / "sub" / "b.jpg"))
    data = run_plan.ScoredData("images", "val", images, None, 2, None, tuple(NAMES), None, None)
    build, job, root = run_plan.make_task(RunOptions(calib_images=8, min_iters=1, min_seconds=0, warmup_max_s=0),
                                          shipped.model, data, CPU, plan[-1], setup)
    assert build.source == str(shipped.teacher) and build.variant == "fp32" and build.student_source is None
    assert job.variant == "teacher" and job.precision == "fp32" and job.device == "cpu" and job.artifact is None
    assert job.runtime == "onnxruntime" and job.providers == ("CPUExecutionProvider",) and job.nc == len(NAMES)
    assert root == shipped.dir / "val" and job.frames.names == ("a.jpg", "sub/b.jpg")  # nothing host-absolute
    student_build, student_job, _ = run_plan.make_task(RunOptions(), shipped.model, data, CPU, plan[-2], setup)
    assert student_build.student_source == str(shipped.student) and student_job.variant == "student"


def test_no_teacher_row_when_the_student_does_not_run(shipped):
    args = _args(variants="fp32,int8")
    assert not run_student.wants_student(args, shipped.model)
    setup = run_student.resolve_student(_args(), shipped.model)
    plan = run_plan.plan_variants(_args(variants="fp32,student-fp16"), shipped.model, CPU, setup)
    assert [r.name for r in plan] == ["fp32", "student-fp16"] and plan[1].reason == "slow (--force runs it anyway)"


def test_a_model_without_a_student_skips_the_student_row_with_its_own_train_command(shipped):
    from dataclasses import replace

    yolo12n = replace(shipped.model, path=shipped.dir / "yolo12n.pt", name="yolo12n", family="yolo12", arch="yolo12n")
    assert run_student.shipped_student(yolo12n) is None  # no yolo12n-student.pt beside it
    plan = run_plan.plan_variants(_args(variants="fp32,student"), yolo12n, CPU, None)
    assert [r.name for r in plan] == ["fp32", "student"] and plan[0].reason is None
    assert plan[1].reason.startswith("no distilled student for this model (train one: bench train --arch yolo12n ")


def test_missing_or_replaced_teacher_leaves_a_reason(shipped):
    shipped.teacher.write_bytes(b"retrained teacher")  # another file under the recorded name
    setup = run_student.resolve_student(_args(), shipped.model)
    assert setup.teacher is None and "is not the teacher the student was distilled from" in setup.teacher_reason
    assert [r.name for r in run_plan.plan_variants(_args(), shipped.model, CPU, setup)][-1] == "student"
    shipped.teacher.unlink()
    setup = run_student.resolve_student(_args(), shipped.model)
    assert "yolo11s.pt" in setup.teacher_reason and "not shipped" in setup.teacher_reason


def test_plain_comparison_needs_the_students_architecture(shipped):
    other = ModelChoice(**{**shipped.model.__dict__, "arch": "yolo12n", "sha256": "c" * 64})
    setup = run_student.resolve_student(_args(), other)
    assert setup.plain_reason.startswith("not comparable") and "yolo12n" in setup.plain_reason
    onnx = ModelChoice(**{**shipped.model.__dict__, "kind": "onnx", "arch": None})
    assert run_student.resolve_student(_args(), onnx) is None  # no <model>-student.pt beside an ONNX model
    assert run_student.resolve_student(_args(student=shipped.student), onnx).plain_reason.startswith("not comparable")
    # same architecture, but not the baseline the student's JSON records: comparable, with a note
    same_arch = ModelChoice(**{**shipped.model.__dict__, "sha256": "d" * 64})
    setup = run_student.resolve_student(_args(), same_arch)
    assert setup.plain_reason is None and "not the plain baseline" in setup.plain_note


def test_plain_note_names_a_training_budget_difference(shipped, tmp_path):
    import json

    meta = json.loads(shipped.student.with_suffix(".json").read_text())
    recorded = 40
    meta["baseline"]["train"] = {"epochs": recorded}
    shipped.student.with_suffix(".json").write_text(json.dumps(meta))
    longer = tmp_path / "plain.pt"
    longer.write_bytes(b"weights")
    longer.with_suffix(".json").write_text(json.dumps({"train": {"epochs": recorded * 2}}))
    other = ModelChoice(**{**shipped.model.__dict__, "sha256": "d" * 64, "path": longer})
    note = run_student.resolve_student(_args(student=shipped.student), other).plain_note
    assert f"the student trained {recorded} epochs, the run's plain.pt {recorded * 2}" in note
    longer.with_suffix(".json").write_text(json.dumps({"train": {"epochs": recorded}}))  # same budget: no claim
    assert "epochs" not in run_student.resolve_student(_args(student=shipped.student), other).plain_note


def test_teacher_that_is_the_runs_model_is_its_fp32_row(shipped):
    model = ModelChoice(**{**shipped.model.__dict__, "path": shipped.teacher, "sha256": file_sha256(shipped.teacher),
                           "arch": "yolo11s", "reference": None})
    args = _args(student=shipped.student)
    setup = run_student.resolve_student(args, model)
    assert setup.teacher_is_model and setup.plain_reason.startswith("not comparable")
    assert [r.name for r in run_plan.plan_variants(args, model, CPU, setup)] == ["fp32", "fp16", "int8", "pruned30",
                                                                                "student"]


def _scored(map50_95, coco=None):
    from harness.evaluation import Scored

    return Scored({"map50_95": map50_95, "avg_iou_per_frame": None}, None, None, None, None, None, coco)


def test_comparisons_measure_against_the_plain_and_teacher_rows(shipped):
    setup = run_student.resolve_student(_args(), shipped.model)
    plan = run_plan.plan_variants(_args(variants="fp32,student"), shipped.model, CPU, setup)
    ok = lambda fps: NS(status="ok", reason=None, timing={"fps": fps})  # noqa: E731
    outcomes = {"fp32": ok(50.0), "student": ok(48.0), "teacher": ok(20.0)}
    scored = {"fp32": _scored(0.60), "student": _scored(0.63), "teacher": _scored(0.70)}
    vs = run_student.student_comparisons(setup, plan, outcomes, scored, bootstrap=0)["student"]
    assert vs["plain"]["reference"] == "fp32" and vs["plain"]["map_drop_points"] == pytest.approx(-3.0)
    assert vs["plain"]["fps_ratio"] == pytest.approx(48 / 50) and vs["plain"]["reason"] is None
    assert vs["teacher"]["reference"] == "teacher" and vs["teacher"]["map_drop_points"] == pytest.approx(7.0)
    assert vs["teacher"]["map_pct_of_reference"] == pytest.approx(90.0) and vs["teacher"]["fps_ratio"] == 2.4
    assert vs["teacher"]["model"]["name"] == "yolo11s" and vs["teacher"]["label"] == "vs teacher FP32"
    # a teacher row that failed: the student's "vs teacher" says why, and nothing is measured
    outcomes["teacher"] = NS(status="failed", reason="export crashed", timing=None)
    vs = run_student.student_comparisons(setup, plan, outcomes, scored, bootstrap=0)["student"]["teacher"]
    assert vs["reference"] is None and "teacher row did not run (export crashed)" in vs["reason"]
    assert "map_drop_points" not in vs


def test_paired_bootstrap_interval_for_the_teacher_drop():
    """The same paired bootstrap as every other drop: a student that finds fewer boxes than its teacher."""
    from harness.evaluation import map_drop, score_variants
    from harness.worker import FrameDets

    rng = np.random.default_rng(0)
    truth, teacher, student = [], [], []
    for _ in range(30):
        boxes = np.array([[10, 10, 60, 60], [100, 100, 150, 170]], float) + rng.uniform(0, 20, (2, 4))
        truth.append(NS(boxes=boxes, classes=np.array([0, 1]), iscrowd=np.zeros(2, bool), area=None))
        teacher.append(FrameDets(boxes + rng.normal(0, 1, boxes.shape), np.array([0.9, 0.8]), np.array([0, 1])))
        keep = slice(0, 1 if rng.random() < 0.5 else 2)
        student.append(FrameDets(boxes[keep] + rng.normal(0, 3, boxes[keep].shape), np.array([0.9, 0.7])[keep],
                                 np.array([0, 1])[keep]))
    data = NS(truth=tuple(truth), names=("a", "b"))
    ok = lambda d: NS(status="ok", detections=tuple(d))  # noqa: E731
    scored = score_variants(data, {"fp32": ok(teacher), "student": ok(student)}, bootstrap=0)
    drop = map_drop(scored["fp32"], scored["student"], bootstrap=100)
    lo, hi = drop["map_drop_ci95"]
    assert drop["map_drop_points"] > 0 and lo <= drop["map_drop_points"] <= hi and lo < hi


def test_table_labels_both_drops(shipped):
    from results.render import run_table
    from results.schema import validate_record
    from tests.results.conftest import DATA

    record = json.loads((DATA / "record_v2.json").read_text())
    table = run_table(validate_record(record, "record_v2.json"))
    names = [r.cells["variant"] for r in table.rows]
    assert names[-3:] == ["student", "  └ vs teacher", "teacher"]
    drop = [r.cells.get("drop") for r in table.rows]
    student = next(v for v in record["variants"] if v["name"] == "student")
    assert drop[-2].startswith(f"{student['vs_models']['teacher']['map_drop_points']:+.2f}")
    assert table.rows[-2].cells["fps"] == f"{student['vs_models']['teacher']['fps_ratio']:.2f}x"
    notes = table.notes
    assert any("same-size plain model's FP32" in n and "vs teacher" in n for n in notes)
    assert any(n.startswith("(4) teacher: yolo11s.pt (yolo11s), the distillation teacher") for n in notes)


# ----------------------------------------------------------------------------------- bench run, bad input

def _run(capsys, *argv):
    code = main(["run", *map(str, argv)])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("argv, needle", [
    (["--teacher", "nope.pt", "--student", "s.pt"], "s.pt: expected an existing student .pt file"),
    (["--teacher", "t.onnx"], "--teacher: expected a teacher .pt checkpoint"),
])
def test_bad_student_or_teacher_paths(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, err = _run(capsys, *argv, "--archive", tmp_path / "arch")
    assert code == 2 and len(err) == 1 and needle in err[0]
    assert not (tmp_path / "arch").exists()


def test_teacher_needs_a_student_variant(tmp_path, capsys):
    teacher = _shipped(tmp_path, "t", b"teacher", arch="yolo11s")
    code, err = _run(capsys, "--teacher", teacher, "--variants", "fp32", "--archive", tmp_path / "arch", "--limit", 1)
    assert code == 2 and len(err) == 1 and "student variant" in err[0] and "--variants" in err[0]
    assert not (tmp_path / "arch").exists()


def test_student_or_teacher_with_other_classes(tmp_path, capsys):
    student = _shipped(tmp_path, "s", b"student", arch="yolo11n")
    odd = tmp_path / "odd.pt"
    odd.write_bytes(b"odd")
    odd.with_suffix(".json").write_text(json.dumps({"sha256": file_sha256(odd), "classes": ["cat", "dog"]}))
    for argv, role in ((["--student", odd], "student"), (["--student", student, "--teacher", odd], "teacher")):
        code, err = _run(capsys, *argv, "--archive", tmp_path / "arch", "--limit", 1)
        assert code == 2 and len(err) == 1 and str(odd) in err[0], err
        assert f"a {role} with the model's 6 classes" in err[0] and "'cat'" in err[0]
    assert not (tmp_path / "arch").exists()


# ------------------------------------------------------------------------ end to end, random weights

@pytest.mark.slow
def test_student_and_teacher_rows_end_to_end(tmp_path, capsys, monkeypatch):
    """Plumbing with random-weight models at 64 px: the student, the teacher row and both comparisons."""
    from tests.exporters.conftest import save_random_model
    from tests.exporters.synthdata import make_dataset

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "d", n_train=2, n_val=4, size=64)
    plain = save_random_model("yolo11n.yaml", tmp_path / "plain.pt", seed=0)
    student = save_random_model("yolo11n.yaml", tmp_path / "student.pt", seed=1)
    teacher = save_random_model("yolo11s.yaml", tmp_path / "teacher.pt", seed=2)
    capsys.readouterr()  # what building the models printed
    code = main(["run", "--model", str(plain), "--student", str(student), "--teacher", str(teacher),
                 "--variants", "fp32,student", "--data", str(data), "--min-iters", "3", "--min-seconds", "0",
                 "--warmup-max-s", "0.2", "--bootstrap", "20", "--no-archive", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    record = json.loads(captured.out)
    by = {v["name"]: v for v in record["variants"]}
    assert list(by) == ["fp32", "student", "teacher"]
    assert all(v["status"] == "ok" for v in by.values()), {k: v["reason"] for k, v in by.items()}
    assert by["teacher"]["source_model"]["sha256"] == file_sha256(teacher)
    assert by["teacher"]["source_model"]["arch"] == "yolo11s"
    assert by["student"]["source_model"]["sha256"] == file_sha256(student)
    assert by["teacher"]["artifact"]["source"]["sha256"] == file_sha256(teacher)
    assert by["teacher"]["artifact"]["artifact"]["size_bytes"] > 2 * by["student"]["artifact"]["artifact"]["size_bytes"]
    vs = by["student"]["vs_models"]
    assert vs["plain"]["reference"] == "fp32" and vs["teacher"]["reference"] == "teacher"
    for role, ref in (("plain", "fp32"), ("teacher", "teacher")):
        assert vs[role]["fps_ratio"] == pytest.approx(by["student"]["timing"]["fps"] / by[ref]["timing"]["fps"])
        drop = by[ref]["accuracy"]["map50_95"] - by["student"]["accuracy"]["map50_95"]
        assert vs[role]["map_drop_points"] == pytest.approx(100 * drop)
    assert vs["plain"]["map_drop_points"] == pytest.approx(by["student"]["vs_reference"]["map_drop_points"])
    from results.schema import validate_record

    assert validate_record(record, "run").variant("student").vs_models["teacher"].reference == "teacher"


def test_student_fine_tuned_from_the_model_says_so_in_its_plain_note(shipped):
    """A student made by prune_cli --control --teacher (derived_from + finetune in its JSON) had E more epochs
    than the run's FP32: the note says so and points at the control sub-line; from another model it says that."""
    meta = json.loads(shipped.student.with_suffix(".json").read_text())
    meta.pop("baseline")
    meta.update(derived_from={"file": "yolo11n.pt", "sha256": shipped.model.sha256}, finetune={"epochs": 20})
    shipped.student.with_suffix(".json").write_text(json.dumps(meta))
    note = run_student.resolve_student(_args(), shipped.model).plain_note
    assert "yolo11n.pt fine-tuned 20 more epochs while distilling" in note and "'└ vs control'" in note
    meta["derived_from"]["sha256"] = "e" * 64
    shipped.student.with_suffix(".json").write_text(json.dumps(meta))
    note = run_student.resolve_student(_args(), shipped.model).plain_note
    assert "fine-tuned from yolo11n.pt (sha256 eeeeeeeeeeee), not from the run's yolo11n.pt" in note
