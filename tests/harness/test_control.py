"""The pruned rows' like-for-like control in `bench run` (harness/control.py): discovery (match, SHA mismatch,
settings mismatch, absent, --control), the `fp32+ftE` row, the `└ vs control` sub-line and its footnote, the
answer line judging a pruned row on its drop against the control, and the footnote when there is none."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from common.errors import InputError
from common.hashing import file_sha256
from harness import control as ctl
from harness import plan as run_plan
from harness.cli import main
from harness.control import Checkpoint
from harness.options import RunOptions
from harness.plan import ModelChoice
from results.answer import answer
from results.render import run_table
from results.schema import validate_record
from tests.results.conftest import make_record

NAMES = ("circle", "rectangle", "triangle", "star", "ring", "cross")
FT = {"epochs": 20, "data_yaml": "/data/synth/data.yaml", "imgsz": 320, "batch": 16, "checkpoint": "last epoch (EMA)",
      "distilled_from": None, "val_metrics": {"metrics/mAP50-95(B)": 0.7}}
CPU = NS(runtime=NS(runtime="onnxruntime", providers=("CPUExecutionProvider",)), profile=NS(name="cpu"),
         hardware=NS(runtimes={"onnxruntime": NS(providers=("CPUExecutionProvider",))}),
         skip_reason=lambda precision, fmt=None: None)
DATA = run_plan.ScoredData("images", "val", ("/v/a.jpg", "/v/b.jpg"), None, 2, None, NAMES, None, None)


class Files:
    """Stand-in checkpoints: files on disk (discovery looks for them) whose facts a fake reader returns."""

    def __init__(self, folder: Path):
        self.folder, self.facts, self.reads = folder, {}, []

    def add(self, name: str, *, pruning=None, control=None, student=None, names=NAMES) -> Path:
        path = self.folder / name
        path.write_bytes(name.encode())
        self.facts[path] = Checkpoint(file_sha256(path), tuple(names), pruning, control, student)
        return path

    def read(self, path: Path) -> Checkpoint:
        self.reads.append(path)
        if path not in self.facts:
            raise InputError(f"{path}: expected a loadable checkpoint, got garbage")
        return self.facts[path]


@pytest.fixture
def shipped(tmp_path):
    return shipped_trio(tmp_path)


def shipped_trio(tmp_path):
    """yolo11n.pt, its pruned30 (pruned + fine-tuned 20 epochs) and its control yolo11n-ft20.pt, side by side."""
    files = Files(tmp_path)
    model_path = files.add("yolo11n.pt")
    sha = file_sha256(model_path)
    model = ModelChoice(path=model_path, kind="pt", name="yolo11n", family="yolo11", imgsz=320, names=NAMES,
                        sha256=sha, reference=None, arch="yolo11n")
    files.add("yolo11n-pruned30.pt", pruning={"ratio": 0.3, "source_sha256": sha, "finetune": dict(FT)})
    control = files.add("yolo11n-ft20.pt", control={"kind": "fine-tune control (no pruning)", "source_sha256": sha,
                                                    "source_file": "yolo11n.pt", "finetune": dict(FT)})
    return NS(files=files, model=model, control=control)


def _resolve(shipped, **opts):
    args = RunOptions(variants=opts.pop("variants", "fp32,int8,pruned30,pruned30-int8"), **opts)
    plan = run_plan.plan_variants(args, shipped.model, CPU, None)
    controls = ctl.resolve_controls(args, shipped.model, DATA, plan, read=shipped.files.read)
    return args, plan, controls


# ------------------------------------------------------------------------------------------- discovery

def test_found_control_adds_its_fp32_row_after_the_pruned_rows(shipped):
    args, plan, controls = _resolve(shipped)
    (c,) = controls
    assert c.path == shipped.control and c.reason is None and c.epochs == 20 and c.row == "fp32+ft20"
    assert c.pruned_rows == ("pruned30", "pruned30-int8") and c.sha256 == file_sha256(shipped.control)
    rows = ctl.with_control_rows(plan, controls)
    assert [r.name for r in rows] == ["fp32", "int8", "pruned30", "pruned30-int8", "fp32+ft20"]
    row = rows[-1]
    assert row.spec == plan[0].spec and row.source == shipped.control and row.reason is None
    build, job, _ = run_plan.make_task(args, shipped.model, DATA, CPU, row)
    assert build.source == str(shipped.control) and build.variant == "fp32" and job.variant == "fp32+ft20"
    assert job.runtime == "onnxruntime" and job.precision == "fp32"
    assert c.source_model(shipped.model)["role"] == "control"


def test_control_from_another_model_is_not_used(shipped):
    shipped.files.add("yolo11n-ft20.pt", control={"source_sha256": "e" * 64, "finetune": dict(FT)})
    _, plan, (c,) = _resolve(shipped)
    assert c.path is None and "fine-tuned from another model (sha256 eeeeeeeeeeee)" in c.reason
    assert ctl.with_control_rows(plan, (c,)) == plan


def test_control_with_other_finetune_settings_is_not_used(shipped):
    shipped.files.add("yolo11n-ft20.pt", control={"source_sha256": shipped.model.sha256,
                                                  "finetune": {**FT, "batch": 8, "imgsz": 416}})
    _, _, (c,) = _resolve(shipped)
    assert c.path is None and "other settings" in c.reason and "imgsz 416 vs 320" in c.reason
    assert "batch 8 vs 16" in c.reason


@pytest.mark.parametrize("spoil, needle", [
    (lambda p: p.unlink(), "no yolo11n-ft20.pt beside yolo11n.pt"),
    ("not a control", "is not a fine-tune control"),
    ("garbage", "cannot be read"),
])
def test_absent_or_unusable_control_says_why_and_how_to_make_one(shipped, spoil, needle):
    if spoil == "not a control":
        shipped.files.add("yolo11n-ft20.pt")
    elif spoil == "garbage":
        del shipped.files.facts[shipped.control]
    else:
        spoil(shipped.control)
    _, _, (c,) = _resolve(shipped)
    assert c.path is None and needle in c.reason
    assert c.command.startswith("python -m exporters.prune_cli --control --model ")
    assert "--data /data/synth/data.yaml --epochs 20 --imgsz 320 --batch 16 --out " in c.command
    assert c.command.endswith("yolo11n-ft20.pt")


def test_no_control_without_a_finetuned_pruned_row(shipped):
    assert _resolve(shipped, variants="fp32,int8")[2] == ()
    shipped.files.add("yolo11n-pruned30.pt", pruning={"ratio": 0.3, "source_sha256": shipped.model.sha256,
                                                      "finetune": {"epochs": 0}})
    assert _resolve(shipped)[2] == ()  # pruned without fine-tuning: no extra training to control
    assert shipped.files.reads.count(shipped.control) == 0


def test_pruned_row_built_in_the_run_looks_for_its_own_epochs(shipped):
    """No usable pruned30 beside the model: the run prunes it and fine-tunes --finetune-epochs (default 10)
    on the calibration YAML; its control is <stem>-ft10.pt with those settings."""
    shipped.files.add("yolo11n-pruned30.pt", pruning={"ratio": 0.3, "source_sha256": "f" * 64, "finetune": FT})
    data = replace(DATA, calib_yaml=Path("/data/other/data.yaml"))
    args = RunOptions(variants="fp32,pruned30")
    plan = run_plan.plan_variants(args, shipped.model, CPU, None)
    (c,) = ctl.resolve_controls(args, shipped.model, data, plan, read=shipped.files.read)
    assert c.epochs == 10 and "no yolo11n-ft10.pt beside" in c.reason and "--epochs 10 " in c.command
    assert c.finetune["data_yaml"] == str(Path("/data/other/data.yaml").resolve()) and c.finetune["batch"] == 16
    ft10 = {**FT, "epochs": 10, "data_yaml": c.finetune["data_yaml"]}
    shipped.files.add("yolo11n-ft10.pt", control={"source_sha256": shipped.model.sha256, "finetune": ft10})
    (c,) = ctl.resolve_controls(args, shipped.model, data, plan, read=shipped.files.read)
    assert c.path == shipped.files.folder / "yolo11n-ft10.pt" and c.row == "fp32+ft10"
    args = RunOptions(variants="fp32,pruned30", variant_options={"finetune_epochs": 0})
    assert ctl.resolve_controls(args, shipped.model, data, plan, read=shipped.files.read) == ()


def test_explicit_control_is_used_or_refused_in_one_line(shipped):
    other = shipped.files.add("mine.pt", control={"source_sha256": shipped.model.sha256, "finetune": dict(FT)})
    _, _, (c,) = _resolve(shipped, control=other)
    assert c.path == other and c.row == "fp32+ft20"
    bad = shipped.files.add("bad.pt", control={"source_sha256": shipped.model.sha256,
                                               "finetune": {**FT, "epochs": 30}})
    with pytest.raises(InputError, match=r"^--control: expected the like-for-like control of pruned30, "
                                         r"pruned30-int8 .*epochs 30 vs 20"):
        _resolve(shipped, control=bad)
    with pytest.raises(InputError, match="^--control: expected a pruned variant fine-tuned after pruning"):
        _resolve(shipped, control=other, variants="fp32,int8")


# ------------------------------------------------------------------------- a student fine-tuned from the model

def _student(shipped, *, source=None, finetune=None):
    """yolo11n-student.pt: the run's model fine-tuned 20 epochs while distilling from yolo11s.pt."""
    path = shipped.files.add("yolo11n-student.pt", student={
        "kind": "distilled fine-tune (student)", "source_sha256": source or shipped.model.sha256,
        "finetune": finetune or {**FT, "distilled_from": "yolo11s.pt", "dis": 1.0}})
    return NS(path=path, teacher=None, teacher_is_model=False)


def _resolve_with_student(shipped, student, variants="fp32,pruned30,student,student-int8", **opts):
    args = RunOptions(variants=variants, **opts)
    plan = run_plan.plan_variants(args, shipped.model, CPU, student)
    return args, plan, ctl.resolve_controls(args, shipped.model, DATA, plan, student=student, read=shipped.files.read)


def test_a_student_fine_tuned_from_the_model_shares_the_pruned_rows_control(shipped):
    """Same 20 epochs and settings, the teacher aside: one control row serves pruned30 and the student rows."""
    _, plan, controls = _resolve_with_student(shipped, _student(shipped))
    (c,) = controls
    assert c.path == shipped.control and c.pruned_rows == ("pruned30",)
    assert c.student_rows == ("student", "student-int8") and c.rows == ("pruned30", "student", "student-int8")
    assert [r.name for r in ctl.with_control_rows(plan, controls)] == ["fp32", "pruned30", "fp32+ft20", "student",
                                                                       "student-int8"]
    outcomes = {r.name: _ok(50.0) for r in ctl.with_control_rows(plan, controls)}
    scored = {"fp32": _scored(0.80), "pruned30": _scored(0.75), "fp32+ft20": _scored(0.82),
              "student": _scored(0.83), "student-int8": _scored(0.81)}
    vs, _ = ctl.control_entries(controls, shipped.model, ctl.with_control_rows(plan, controls), outcomes, scored,
                                bootstrap=0)
    assert set(vs) == {"pruned30", "student", "student-int8"}
    v = vs["student"]["control"]
    assert v["reference"] == "fp32+ft20" and v["map_drop_points"] == pytest.approx(-1.0)
    assert "distillation's own effect" in v["note"] and v["note"].startswith("student, student-int8: ")
    assert "pruning's own cost" in vs["pruned30"]["control"]["note"]
    assert vs["pruned30"]["control"]["note"].startswith("pruned30: ")


def test_a_student_alone_gets_its_control_row_before_it(shipped):
    _, plan, controls = _resolve_with_student(shipped, _student(shipped), variants="fp32,student")
    (c,) = controls
    assert c.pruned_rows == () and c.student_rows == ("student",)
    assert [r.name for r in ctl.with_control_rows(plan, controls)] == ["fp32", "fp32+ft20", "student"]


def test_a_student_without_a_control_says_so_and_how_to_make_one(shipped):
    shipped.control.unlink()
    _, plan, controls = _resolve_with_student(shipped, _student(shipped), variants="fp32,student")
    (c,) = controls
    assert c.path is None and "no yolo11n-ft20.pt beside yolo11n.pt" in c.reason
    outcomes, scored = {r.name: _ok(50.0) for r in plan}, {r.name: _scored(0.8) for r in plan}
    v = ctl.control_entries(controls, shipped.model, plan, outcomes, scored, bootstrap=0)[0]["student"]["control"]
    assert v["reference"] is None and "mixes distillation's effect with the extra training's" in v["reason"]
    assert "python -m exporters.prune_cli --control --model " in v["reason"] and "--teacher" not in v["reason"]


@pytest.mark.parametrize("student", [
    "trained on its own", "from another model", "not fine-tuned", "no student"])
def test_only_a_student_fine_tuned_from_the_run_model_joins_a_control(shipped, student):
    if student == "trained on its own":  # bench train's student: no bench_student record
        setup = NS(path=shipped.files.add("yolo11n-student.pt"), teacher=None, teacher_is_model=False)
    elif student == "from another model":
        setup = _student(shipped, source="d" * 64)
    elif student == "not fine-tuned":
        setup = _student(shipped, finetune={"epochs": 0})
    else:
        setup = None
    _, _, controls = _resolve_with_student(shipped, setup, variants="fp32,student")
    assert controls == ()


def test_explicit_control_for_a_student_only_run(shipped):
    other = shipped.files.add("mine.pt", control={"source_sha256": shipped.model.sha256, "finetune": dict(FT)})
    (c,) = _resolve_with_student(shipped, _student(shipped), variants="fp32,student", control=other)[2]
    assert c.path == other and c.student_rows == ("student",)
    with pytest.raises(InputError, match="or a student fine-tuned from the model"):
        _resolve_with_student(shipped, NS(path=shipped.files.add("s.pt"), teacher=None, teacher_is_model=False),
                              variants="fp32,student", control=other)


def _run(capsys, *argv):
    code = main(["run", *map(str, argv)])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("name, needle", [("c.onnx", "--control: expected a control .pt checkpoint"),
                                          ("nope.pt", "nope.pt: expected an existing control .pt file")])
def test_bad_control_argument_is_one_line(tmp_path, capsys, monkeypatch, name, needle):
    monkeypatch.chdir(tmp_path)
    code, err = _run(capsys, "--control", name, "--archive", tmp_path / "arch")
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "arch").exists()


# ------------------------------------------------------------------------------- comparisons, record, table

def _scored(map50_95):
    from harness.evaluation import Scored

    return Scored({"map50_95": map50_95, "avg_iou_per_frame": None}, None, None, None, None, None, None)


def _ok(fps):
    return NS(status="ok", reason=None, timing={"fps": fps})


def test_pruned_rows_are_measured_against_the_control_row(shipped):
    _, plan, controls = _resolve(shipped)
    plan = ctl.with_control_rows(plan, controls)
    outcomes = {"fp32": _ok(50.0), "int8": _ok(80.0), "pruned30": _ok(75.0), "pruned30-int8": _ok(100.0),
                "fp32+ft20": _ok(50.0)}
    scored = {"fp32": _scored(0.66), "int8": _scored(0.65), "pruned30": _scored(0.69),
              "pruned30-int8": _scored(0.68), "fp32+ft20": _scored(0.71)}
    vs, sources = ctl.control_entries(controls, shipped.model, plan, outcomes, scored, bootstrap=0)
    assert set(vs) == {"pruned30", "pruned30-int8"} and set(sources) == {"fp32+ft20"}
    v = vs["pruned30"]["control"]
    assert v["reference"] == "fp32+ft20" and v["label"] == "vs control" and v["reason"] is None
    assert v["map_drop_points"] == pytest.approx(2.0) and v["fps_ratio"] == pytest.approx(1.5)
    assert v["model"]["name"] == "yolo11n-ft20" and "pruning's own cost" in v["note"]
    assert sources["fp32+ft20"]["sha256"] == file_sha256(shipped.control)
    outcomes["fp32+ft20"] = NS(status="failed", reason="export crashed", timing=None)
    v = ctl.control_entries(controls, shipped.model, plan, outcomes, scored, bootstrap=0)[0]["pruned30"]["control"]
    assert v["reference"] is None and v["reason"] == "the fp32+ft20 row did not run (export crashed)"


def _record(shipped, *, found: bool, control_drop=(2.0, [1.4, 2.6])):
    """A record whose pruned30 row carries the harness's own control entry (found or not)."""
    if not found:
        shipped.control.unlink()
    _, plan, controls = _resolve(shipped, variants="fp32,int8,pruned30")
    plan = ctl.with_control_rows(plan, controls)
    outcomes = {r.name: _ok(50.0) for r in plan}
    scored = {r.name: _scored(0.6) for r in plan}
    vs, sources = ctl.control_entries(controls, shipped.model, plan, outcomes, scored, bootstrap=0)
    variants = {"fp32": (20.0, 0.52, 0.81), "int8": (16.0, 0.47, 0.79), "pruned30": (9.0, 0.545, 0.8)}
    if found:
        variants["fp32+ft20"] = (20.0, 0.565, 0.82)
    raw = make_record(variants=variants, skipped=())
    by = {v["name"]: v for v in raw["variants"]}
    by["pruned30"]["vs_models"] = vs["pruned30"]
    if found:
        by["pruned30"]["vs_models"]["control"].update(map_drop_points=control_drop[0],
                                                       map_drop_ci95=control_drop[1])
        by["fp32+ft20"]["source_model"] = sources["fp32+ft20"]
    return validate_record(json.loads(json.dumps(raw)), "test")


def test_table_shows_the_control_row_the_sub_line_and_its_footnote(shipped):
    table = run_table(_record(shipped, found=True))
    names = [r.cells["variant"] for r in table.rows]
    assert names == ["fp32", "int8", "pruned30", "  └ vs control", "fp32+ft20"]
    sub = table.rows[3]
    assert sub.status == "sub" and sub.cells["drop"] == "+2.00 [+1.40, +2.60]" and sub.cells["fps"] == "1.00x"
    pruned, control = table.rows[2], table.rows[4]
    assert table.rows[2].cells["drop"].startswith("-2.50")  # the drop column stays against fp32
    note = table.notes[pruned.notes[0] - 1]
    assert sub.cells["status"] == f"({pruned.notes[0]})" and "'└ vs control' is against the fp32+ft20 row" in note
    assert "yolo11n-ft20.pt" in table.notes[control.notes[0] - 1] and "like-for-like control" in \
        table.notes[control.notes[0] - 1]
    assert not any("student rows" in n for n in table.notes)
    from results.report import _student_blocks

    assert _student_blocks(_record(shipped, found=True)) == []  # no "Distilled student" section for a pruned row


def test_the_answer_judges_a_pruned_row_on_its_drop_against_the_control(shipped):
    # pruned30 is 2.5 points ABOVE fp32 (extra training) but 2.0 [1.4, 2.6] below its control: out of budget
    record = _record(shipped, found=True)
    line = answer(record, max_drop=1.0)
    assert "pruned30" not in line and "fp32+ft20" not in line  # the control is another model, not a candidate
    # within budget against the control: pruned30 wins and the line says what it was judged on
    record = _record(shipped, found=True, control_drop=(0.3, [-0.2, 0.8]))
    line = answer(record, max_drop=1.0)
    assert ": pruned30, " in line and line.endswith("(judged on its drop vs fp32+ft20, its fine-tune control)")


def test_without_a_control_the_pruned_row_says_it_had_more_training(shipped):
    record = _record(shipped, found=False)
    table = run_table(record)
    assert [r.cells["variant"] for r in table.rows] == ["fp32", "int8", "pruned30"]
    pruned = table.rows[2]
    note = table.notes[pruned.notes[0] - 1]
    assert "pruned30 had 20 more epochs of training (fine-tuning after pruning) than the fp32 row" in note
    assert "no like-for-like control was found (no yolo11n-ft20.pt beside yolo11n.pt)" in note
    assert "python -m exporters.prune_cli --control" in note
    line = answer(record, max_drop=1.0)
    assert ": pruned30, " in line and "no fine-tune control, see its note" in line


def test_the_table_with_a_control_fits_80_columns(shipped):
    from rich.console import Console

    from results.render import print_run

    console = Console(width=80, record=True, color_system=None)
    print_run(_record(shipped, found=True), console=console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "└ vs control" in text.replace("\n", " ")


# ------------------------------------------------------------------------------------ a real checkpoint

def test_read_checkpoint_reads_the_control_record_of_a_real_checkpoint(tmp_path):
    """The one reader that loads PyTorch: a tiny random YOLO11n saved as prune_cli --control saves it."""
    from tests.exporters.conftest import save_random_model

    import torch

    path = save_random_model("yolo11n.yaml", tmp_path / "m-ft20.pt")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    ckpt["model"].bench_control = {"source_sha256": "a" * 64, "finetune": dict(FT)}
    torch.save(ckpt, path)
    facts = ctl.read_checkpoint(path)
    assert facts.control["finetune"]["epochs"] == 20 and facts.pruning is None
    assert facts.sha256 == file_sha256(path) and len(facts.names) > 0


def test_docstring_examples():
    import doctest

    result = doctest.testmod(ctl, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------------ end to end, random weights

@pytest.mark.slow
def test_control_row_end_to_end(tmp_path, capsys, monkeypatch):
    """Plumbing with random-weight 64 px models standing in for the trio: discovery from the real checkpoints'
    records, the fp32+ft20 row run like fp32, the pruned row's comparison in the record, the table's sub-line."""
    import torch

    from tests.exporters.conftest import save_random_model
    from tests.exporters.synthdata import make_dataset

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "d", n_train=2, n_val=4, size=64)
    plain = save_random_model("yolo11n.yaml", tmp_path / "m.pt", seed=0)
    sha = file_sha256(plain)
    ft = {**FT, "imgsz": 64, "data_yaml": str(data.resolve())}

    def tagged(seed: int, name: str, attr: str, value: dict) -> Path:
        path = save_random_model("yolo11n.yaml", tmp_path / name, seed=seed)
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        setattr(ckpt["model"], attr, value)
        torch.save(ckpt, path)
        return path

    tagged(1, "m-pruned30.pt", "bench_pruning", {"ratio": 0.3, "source_sha256": sha, "finetune": ft})
    control = tagged(2, "m-ft20.pt", "bench_control", {"source_sha256": sha, "finetune": ft})
    capsys.readouterr()  # what building the models printed
    code = main(["run", "--model", str(plain), "--variants", "fp32,pruned30", "--data", str(data), "--min-iters", "3",
                 "--min-seconds", "0", "--warmup-max-s", "0.2", "--bootstrap", "20", "--no-archive", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    raw = json.loads(captured.out)
    by = {v["name"]: v for v in raw["variants"]}
    assert list(by) == ["fp32", "pruned30", "fp32+ft20"]
    assert all(v["status"] == "ok" for v in by.values()), {k: v["reason"] for k, v in by.items()}
    assert by["fp32+ft20"]["source_model"]["role"] == "control"
    assert by["fp32+ft20"]["artifact"]["source"]["sha256"] == file_sha256(control)
    vs = by["pruned30"]["vs_models"]["control"]
    assert vs["reference"] == "fp32+ft20" and vs["fps_ratio"] > 0 and vs["label"] == "vs control"
    table = run_table(validate_record(raw, "run"))
    assert [r.cells["variant"] for r in table.rows] == ["fp32", "pruned30", "  └ vs control", "fp32+ft20"]


@pytest.mark.slow
def test_distilled_finetune_student_is_measured_against_the_control_end_to_end(tmp_path, capsys, monkeypatch):
    """The real chain with random-weight 64 px models: prune_cli --control (the control) and prune_cli --control
    --teacher (the student, distilling from a larger yolo11s) fine-tune the same model one epoch; bench run then
    finds both beside the model, scores the control's FP32 row and gives the student row its '└ vs control'."""
    from exporters import prune_cli
    from tests.exporters.conftest import save_random_model
    from tests.exporters.synthdata import make_dataset

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "d", n_train=2, n_val=4, size=64)
    plain = save_random_model("yolo11n.yaml", tmp_path / "m.pt", seed=0)
    teacher = save_random_model("yolo11s.yaml", tmp_path / "big.pt", seed=1)
    common = ["--model", str(plain), "--control", "--data", str(data), "--epochs", "1", "--imgsz", "64", "--batch", "2",
              "--no-val", "--threads", "1"]
    assert prune_cli.main([*common, "--out", str(tmp_path / "m-ft1.pt")]) == 0
    assert prune_cli.main([*common, "--teacher", str(teacher), "--dis", "1", "--out",
                           str(tmp_path / "m-student.pt")]) == 0
    meta = json.loads((tmp_path / "m-student.json").read_text())
    assert meta["teacher"]["path"] == "big.pt" and meta["teacher"]["sha256"] == file_sha256(teacher)
    assert meta["finetune"]["distilled_from"] == "big.pt" and meta["distillation"]["dis"] == 1.0
    facts = ctl.read_checkpoint(tmp_path / "m-student.pt")
    assert facts.student["source_sha256"] == file_sha256(plain) and facts.control is None
    capsys.readouterr()
    code = main(["run", "--model", str(plain), "--variants", "fp32,student", "--data", str(data), "--min-iters", "3",
                 "--min-seconds", "0", "--warmup-max-s", "0.2", "--bootstrap", "20", "--no-archive", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    by = {v["name"]: v for v in json.loads(captured.out)["variants"]}
    assert list(by) == ["fp32", "fp32+ft1", "student", "teacher"]
    assert all(v["status"] == "ok" for v in by.values()), {k: v["reason"] for k, v in by.items()}
    vs = by["student"]["vs_models"]
    assert set(vs) == {"plain", "teacher", "control"} and vs["control"]["reference"] == "fp32+ft1"
    assert "distillation's own effect" in vs["control"]["note"] and "1 more epoch while" in vs["plain"]["note"]
