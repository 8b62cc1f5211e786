"""The distilled student of a run: which student and teacher are used, and the student rows' comparisons.

The student is ``--student``, else ``<model>-student.pt`` beside the model; its teacher is ``--teacher``,
else the one its JSON (written by ``bench train``) names, accepted only with the recorded SHA-256. The
teacher's FP32 is scored as the ``teacher`` row (:mod:`harness.plan`); :func:`student_comparisons`
measures each student row against the same-size plain model's FP32 and against the teacher's FP32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError, expected
from common.jsonio import read_json_object
from harness.options import RunOptions
from harness.plan import REFERENCE, TEACHER, ModelChoice, Row
from results.format import NOT_COMPARABLE

__all__ = ["StudentSetup", "resolve_student", "shipped_student", "student_comparisons", "wants_student"]


@dataclass(frozen=True)
class StudentSetup:
    """A run's distilled student, its teacher, and what the student's rows are compared with."""

    path: Path
    sha256: str
    arch: str | None
    family: str
    info: dict | None  # the student's JSON (written by bench train), when it describes this file
    teacher: Path | None = None  # the model whose FP32 is the ``teacher`` row
    teacher_sha256: str | None = None
    teacher_arch: str | None = None
    teacher_family: str | None = None
    teacher_reason: str | None = None  # why there is no teacher to compare with
    teacher_note: str | None = None
    teacher_is_model: bool = False  # the teacher is the run's model: its FP32 row is ``fp32``
    plain_reason: str | None = None  # why the run's FP32 is not the same-size plain model
    plain_note: str | None = None  # e.g. the run's model is not the baseline the student's JSON records

    def source_model(self, role: str) -> dict:
        if role == "student":
            return {"role": "student", "name": self.path.stem, "path": str(self.path), "sha256": self.sha256,
                    "arch": self.arch, "family": self.family}
        return {"role": "teacher", "name": self.teacher.stem, "path": str(self.teacher),
                "sha256": self.teacher_sha256, "arch": self.teacher_arch, "family": self.teacher_family}


@dataclass(frozen=True)
class _Described:
    names: tuple[str, ...]
    sha256: str
    arch: str | None
    family: str
    info: dict | None  # the JSON beside the file, when it describes this very file


def _describe(path: Path, sha256: str | None = None) -> _Described:
    """A checkpoint's classes and architecture: from the JSON ``bench train`` wrote beside it when that JSON
    records this file's SHA-256 (no PyTorch needed), else by loading it (validated like any source model).
    ``sha256``: the file's hash when the caller already computed it."""
    from exporters.source import inspect_source
    from common.hashing import file_sha256

    if not path.is_file():
        raise InputError(expected("an existing .pt model file", "a folder" if path.is_dir() else "no such file",
                                  str(path)))
    info = read_json_object(path.with_suffix(".json"))
    if info is not None and isinstance(info.get("classes"), list) and \
            info.get("sha256") == (sha256 or file_sha256(path)):
        return _Described(tuple(info["classes"]), info["sha256"], info.get("arch"), info.get("family", "unknown"), info)
    src = inspect_source(path)
    return _Described(tuple(src.names), src.sha256, src.arch, src.family, None)


def _same_classes(src, model: ModelChoice, role: str, where: str) -> None:
    if tuple(src.names) != tuple(model.names):
        short = lambda n: list(n)[:6]  # noqa: E731
        raise InputError(expected(f"a {role} with the model's {len(model.names)} classes {short(model.names)}",
                                  f"{len(src.names)} classes {short(src.names)}", where))


def resolve_student(opts: RunOptions, model: ModelChoice) -> StudentSetup | None:
    """The run's distilled student (``--student``, else ``<model>-student.pt`` beside the model) and its teacher.

    The teacher is ``--teacher``, else the one the student's JSON names (``teacher.path``), looked up
    beside the student and in the shipped models folder and accepted only if its SHA-256 is the one
    recorded. A student without a teacher still runs; the reason is kept for its "vs teacher" cells.

    Raises:
        InputError: a ``--student``/``--teacher`` that is missing, unreadable, or has other classes
            than the run's model (before anything is built or written).
    """
    from harness.reference import MODELS_DIR
    from common.hashing import file_sha256

    # --student/--teacher are .pt files that exist: run_cmd checks the arguments before a run starts
    student_arg, teacher_arg = opts.student, opts.teacher
    if student_arg is not None:
        path = student_arg
    elif (beside := shipped_student(model)) is not None:
        path = beside
    else:
        if teacher_arg is not None:
            raise InputError(expected("a distilled student to compare with the teacher (--student S.pt)",
                                      "no student for this model", "--teacher"))
        return None
    student = _describe(path)
    _same_classes(student, model, "student", str(path))
    info = student.info  # None when no JSON beside it describes this very file
    setup = dict(path=path, sha256=student.sha256, arch=student.arch, family=student.family, info=info)

    # the teacher
    recorded = (info or {}).get("teacher") or {}
    if teacher_arg is not None:
        teacher = _describe(teacher_arg)
        _same_classes(teacher, model, "teacher", str(teacher_arg))
        setup.update(teacher=teacher_arg, teacher_sha256=teacher.sha256, teacher_arch=teacher.arch,
                     teacher_family=teacher.family)
        if recorded.get("sha256") and recorded["sha256"] != teacher.sha256:
            setup["teacher_note"] = (f"{teacher_arg.name} is not the teacher the student was distilled from "
                                     f"({recorded.get('path')}, sha256 {recorded['sha256'][:12]})")
    elif not recorded.get("path"):
        setup["teacher_reason"] = (f"no teacher known for {path.name} (no JSON from bench train beside it names "
                                   "one); pass --teacher T.pt")
    else:
        name = Path(recorded["path"]).name
        found = next((d / name for d in dict.fromkeys([path.parent, MODELS_DIR]) if (d / name).is_file()), None)
        if found is None:
            setup["teacher_reason"] = (f"the teacher {name} named in {path.with_suffix('.json').name} is not shipped "
                                       f"(not in {MODELS_DIR}); pass --teacher T.pt")
        elif recorded.get("sha256") and (sha := file_sha256(found)) != recorded["sha256"]:
            setup["teacher_reason"] = (f"{found} (sha256 {sha[:12]}) is not the teacher the student was distilled "
                                       f"from (sha256 {recorded['sha256'][:12]}); pass --teacher T.pt")
        else:
            try:
                teacher = _describe(found, recorded.get("sha256"))  # the hash just matched: not computed again
            except InputError as exc:  # a broken shipped file costs the comparison, not the run
                teacher, setup["teacher_reason"] = None, f"the teacher cannot be used: {exc}"
            if teacher is not None and tuple(teacher.names) != tuple(model.names):
                setup["teacher_reason"] = f"{found} has other classes than the model"
            elif teacher is not None:
                setup.update(teacher=found, teacher_sha256=teacher.sha256, teacher_arch=teacher.arch,
                             teacher_family=teacher.family)
    setup["teacher_is_model"] = setup.get("teacher_sha256") == model.sha256
    if setup["teacher_is_model"]:
        setup["teacher_note"] = "the teacher is the run's model: its FP32 is the fp32 row"

    # the same-size plain model: the run's own FP32, when the run's model has the student's architecture
    if model.kind != "pt" or model.arch is None:
        setup["plain_reason"] = (f"{NOT_COMPARABLE}: the run's model {model.path.name} has no known architecture "
                                 "(ONNX or pruned)")
    elif setup["arch"] is None:
        setup["plain_reason"] = f"{NOT_COMPARABLE}: the student {path.name} has no known architecture"
    elif setup["arch"] != model.arch:
        setup["plain_reason"] = (f"{NOT_COMPARABLE}: the run's model is {model.arch}, the student {setup['arch']} "
                                 "(run the student's own architecture with --model)")
    elif (derived := _derived_note(info, model)) is not None:
        setup["plain_note"] = derived
    else:
        baseline = (info or {}).get("baseline") or {}
        if baseline.get("found") and baseline.get("sha256") and baseline["sha256"] != model.sha256:
            setup["plain_note"] = (f"the run's {model.path.name} is not the plain baseline the student's JSON records "
                                   f"({baseline.get('name')}, sha256 {baseline['sha256'][:12]})"
                                   + _budget_difference(baseline, model))
        elif baseline.get("found") and baseline.get("settings_identical") is False:
            setup["plain_note"] = ("the plain model was trained with other settings than the student ("
                                   + ", ".join(sorted(baseline.get("differences") or {})) + ")")
    return StudentSetup(**setup)


def _derived_note(info: dict | None, model: ModelChoice) -> str | None:
    """For a student fine-tuned from a model while distilling (``prune_cli --control --teacher``): how its
    training relates to the run's FP32. None for a student ``bench train`` trained on its own."""
    derived = (info or {}).get("derived_from") or {}
    epochs = ((info or {}).get("finetune") or {}).get("epochs")
    if not derived.get("sha256") or not isinstance(epochs, int):
        return None
    if derived["sha256"] != model.sha256:
        return (f"the student was fine-tuned from {derived.get('file')} (sha256 {derived['sha256'][:12]}), not from "
                f"the run's {model.path.name}")
    more = f"{epochs} more epoch{'' if epochs == 1 else 's'}"
    return (f"the student is {model.path.name} fine-tuned {more} while distilling, so this drop mixes "
            "distillation's effect with the extra training's; '└ vs control' separates them")


def _budget_difference(baseline: dict, model: ModelChoice) -> str:
    """``"; the student trained 40 epochs, the run's yolo11n.pt 80"`` when both JSONs say so and they differ."""
    mine = ((read_json_object(model.path.with_suffix(".json")) or {}).get("train") or {}).get("epochs")
    theirs = (baseline.get("train") or {}).get("epochs")
    if not isinstance(mine, int) or not isinstance(theirs, int) or mine == theirs:
        return ""
    return f"; the student trained {theirs} epochs, the run's {model.path.name} {mine}, so part of the drop is budget"


def shipped_student(model: ModelChoice) -> Path | None:
    """``<model>-student.pt`` beside a ``.pt`` model (the shipped ``yolo11n-student.pt`` for the default run)."""
    if model.kind != "pt":
        return None
    path = model.path.with_name(f"{model.path.stem}-student.pt")
    return path if path.is_file() else None


def wants_student(opts: RunOptions, model: ModelChoice) -> bool:
    """Whether the run has student rows (so the student and its teacher must be resolved), cheaply.

    Raises:
        InputError: ``--student``/``--teacher`` given while ``--variants`` names no student variant.
    """
    from exporters.spec import parse_variant

    given = opts.student is not None or opts.teacher is not None
    if opts.variants is None:
        return given or shipped_student(model) is not None
    if any(parse_variant(n.split("+")[0]).kind == "student" for n in opts.variants.split(",") if n.strip()):
        return True
    if given:
        raise InputError(expected("a student variant in --variants (student, student-fp16, student-int8) with "
                                  "--student/--teacher", repr(opts.variants), "--variants"))
    return False


def student_comparisons(student: StudentSetup, plan: list[Row], outcomes: dict, scored: dict, *,
                        bootstrap: int, seed: int = 0) -> dict[str, dict]:
    """``vs_models`` of every student row that ran: its drops and FPS ratio against the same-size plain
    model's FP32 (the ``fp32`` row, only when comparable) and against the teacher's FP32."""
    from harness.evaluation import map_drop

    teacher_row = REFERENCE if student.teacher_is_model else TEACHER
    targets = {
        "plain": ("vs same-size plain FP32", REFERENCE, student.plain_reason, student.plain_note, None),
        "teacher": ("vs teacher FP32", teacher_row if student.teacher is not None else None, student.teacher_reason,
                    student.teacher_note, student.teacher),
    }
    out = {}
    for row in plan:
        if row.spec.kind != "student" or outcomes[row.name].status != "ok":
            continue
        entry = {}
        for role, (label, against, reason, note, path) in targets.items():
            model = None
            if role == "teacher" and path is not None:
                model = {"name": path.stem, "sha256": student.teacher_sha256, "arch": student.teacher_arch}
            vs = {"reference": None, "label": label, "model": model, "reason": reason, "note": note}
            if reason is None and against is not None:
                ref = outcomes.get(against)
                if ref is None or ref.status != "ok":
                    vs["reason"] = f"the {against} row did not run" + (f" ({ref.reason})" if ref and ref.reason else "")
                else:
                    vs["reference"] = against
                    if against in scored and row.name in scored:
                        vs.update(map_drop(scored[against], scored[row.name], bootstrap=bootstrap, seed=seed))
                    fps, ref_fps = (outcomes[row.name].timing or {}).get("fps"), (ref.timing or {}).get("fps")
                    vs["fps_ratio"] = fps / ref_fps if fps and ref_fps else None
            entry[role] = vs
        out[row.name] = entry
    return out
