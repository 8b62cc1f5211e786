"""The run loop of ``bench run``: resolve device, model and data once, run each variant isolated,
score everything against the FP32 variant, build and archive the record.

Measure (worker) -> aggregate (scorer) -> store (results.archive); rendering is left to the CLI.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError, expected
from results.format import NOT_COMPARABLE

REFERENCE = "fp32"
TEACHER = "teacher"  # the row scoring a distilled student's teacher at FP32 (not a variant of the run's model)


@dataclass(frozen=True)
class ModelChoice:
    """The validated source model of a run."""

    path: Path
    kind: str  # "pt" | "onnx"
    name: str
    family: str
    imgsz: int
    names: tuple[str, ...]
    sha256: str
    reference: str | None  # the shipped reference's name when it is one
    arch: str | None = None  # the architecture config ("yolo11n"), None when unknown (ONNX, pruned)


@dataclass(frozen=True)
class ScoredData:
    """What every variant runs on: frames (image paths or a video) and their ground truth."""

    kind: str  # "images" | "video"
    source: str
    image_paths: tuple[str, ...] | None
    video_path: str | None
    count: int
    truth: tuple | None  # per frame: objects with .boxes (xyxy) and .classes; None without GT
    names: tuple[str, ...]
    calib_yaml: Path | None
    note: str | None


def resolve_model(args: argparse.Namespace) -> ModelChoice:
    """The model to benchmark: ``--model`` or the shipped reference YOLO11n."""
    from harness.reference import reference_model

    if args.model is None:
        ref = reference_model()
        return ModelChoice(path=ref.weights, kind="pt", name=ref.name, family=ref.info.get("family", "yolo11"),
                           imgsz=ref.imgsz, names=tuple(ref.info["classes"]), sha256=ref.info["sha256"],
                           reference=ref.name, arch=ref.info.get("arch"))
    from exporters.source import inspect_source

    src = inspect_source(args.model)
    imgsz = src.imgsz or 640
    return ModelChoice(path=src.path, kind=src.kind, name=src.path.stem, family=src.family, imgsz=int(imgsz),
                       names=tuple(src.names), sha256=src.sha256, reference=None, arch=src.arch)


def load_data(args: argparse.Namespace, model: ModelChoice) -> ScoredData:
    """Load and validate the scored frames once; the class count must agree with the model's."""
    if args.video is not None:
        from harness.data.video import load_video

        src = load_video(args.video, args.gt, n_classes=len(model.names))
        n = src.n_frames if args.limit is None else min(src.n_frames, args.limit)
        truth = None if src.truth is None else src.truth[:n]
        note = f"first {n} of {src.n_frames} frames (--limit)" if n < src.n_frames else None
        return ScoredData("video", str(args.video), None, str(args.video), n, truth, model.names, None, note)
    if args.coco is not None:
        from harness.data.coco import load_coco_dataset

        ds = load_coco_dataset(args.coco, args.images, limit=args.limit)
        if len(ds.names) != len(model.names):
            raise InputError(expected(f"annotations with the model's {len(model.names)} classes", f"{len(ds.names)} categories",
                                      str(args.coco)))
        return _from_dataset(ds, None)
    if args.images is not None and args.data is None:
        from harness.data.dataset import load_image_folder

        ds = load_image_folder(args.images, limit=args.limit, names=model.names)
        return _from_dataset(ds, None)
    if args.data is not None:
        data_yaml = args.data
    else:
        from harness.data.synth import ensure_dataset

        data_yaml = ensure_dataset() / "data.yaml"
    from harness.data.yolo import load_yolo_dataset

    ds = load_yolo_dataset(data_yaml, split=args.split, limit=args.limit)
    if len(ds.names) != len(model.names):
        raise InputError(expected(f"a dataset with the model's {len(model.names)} classes {list(model.names)[:6]}",
                                  f"{len(ds.names)} classes {list(ds.names)[:6]}", str(data_yaml)))
    return _from_dataset(ds, data_yaml)


def _from_dataset(ds, calib_yaml: Path | None) -> ScoredData:
    note = f"{ds.dropped} images not scored ({ds.dropped_reason})" if ds.dropped else None
    truth = tuple(ds.items) if ds.with_ground_truth else None
    return ScoredData("images", ds.source, tuple(str(it.path) for it in ds.items), None, len(ds), truth,
                      ds.names, calib_yaml, note)


@dataclass(frozen=True)
class Row:
    """One row of the run: a variant of the run's model, or the ``teacher`` row (the teacher's FP32)."""

    name: str
    spec: object  # exporters.spec.VariantSpec
    source: Path  # the model the row is built from
    reason: str | None = None  # why it is skipped


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


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
    info = _read_json(path.with_suffix(".json"))
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


def resolve_student(args: argparse.Namespace, model: ModelChoice) -> StudentSetup | None:
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
    student_arg, teacher_arg = getattr(args, "student", None), getattr(args, "teacher", None)
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
    else:
        baseline = (info or {}).get("baseline") or {}
        if baseline.get("found") and baseline.get("sha256") and baseline["sha256"] != model.sha256:
            setup["plain_note"] = (f"the run's {model.path.name} is not the plain baseline the student's JSON records "
                                   f"({baseline.get('name')}, sha256 {baseline['sha256'][:12]})")
        elif baseline.get("found") and baseline.get("settings_identical") is False:
            setup["plain_note"] = ("the plain model was trained with other settings than the student ("
                                   + ", ".join(sorted(baseline.get("differences") or {})) + ")")
    return StudentSetup(**setup)


def shipped_student(model: ModelChoice) -> Path | None:
    """``<model>-student.pt`` beside a ``.pt`` model (the shipped ``yolo11n-student.pt`` for the default run)."""
    if model.kind != "pt":
        return None
    path = model.path.with_name(f"{model.path.stem}-student.pt")
    return path if path.is_file() else None


def wants_student(args: argparse.Namespace, model: ModelChoice) -> bool:
    """Whether the run has student rows (so the student and its teacher must be resolved), cheaply.

    Raises:
        InputError: ``--student``/``--teacher`` given while ``--variants`` names no student variant.
    """
    from exporters.spec import parse_variant

    given = getattr(args, "student", None) is not None or getattr(args, "teacher", None) is not None
    if args.variants is None:
        return given or shipped_student(model) is not None
    if any(parse_variant(n).kind == "student" for n in args.variants.split(",") if n.strip()):
        return True
    if given:
        raise InputError(expected("a student variant in --variants (student, student-fp16, student-int8) with "
                                  "--student/--teacher", repr(args.variants), "--variants"))
    return False


def plan_variants(args: argparse.Namespace, model: ModelChoice, device,
                  student: StudentSetup | None = None) -> list[Row]:
    """Parse the variant list; return the rows with FP32 first (and the teacher's FP32 last, with a student)."""
    from exporters.spec import parse_variant

    fmt = args.format or ("trt" if device.runtime.runtime == "tensorrt" else "onnx")
    if args.variants is None:
        names = ["fp32", "fp16", "int8", "pruned30"]
        if student is not None:
            names.append("student")
    else:
        names = [n.strip() for n in args.variants.split(",") if n.strip()]
        if not names:
            raise InputError(expected("at least one variant name", repr(args.variants), "--variants"))
    specs = [parse_variant(n, fmt=fmt) for n in names]
    seen, unique = set(), []
    for s in specs:
        if s.name not in seen:
            seen.add(s.name)
            unique.append(s)
    if REFERENCE not in seen:  # drops are measured against FP32: it always runs
        unique.insert(0, parse_variant(REFERENCE, fmt=fmt))
    unique.sort(key=lambda s: s.name != REFERENCE)
    plan = []
    for s in unique:
        reason = None
        if s.needs_pytorch and model.kind != "pt":
            reason = f"{s.name} needs the PyTorch model (.pt); the source is {model.path.name}"
        elif s.kind == "student" and student is None:
            reason = (f"no distilled student for this model (train one: bench train --arch {model.arch or 'yolo11n'} "
                      "--teacher TEACHER.pt, or pass --student S.pt)")
        elif not args.force and s.name != REFERENCE:
            reason = device.skip_reason(s.precision)
            if reason is not None:
                reason += " (--force runs it anyway)"
        plan.append(Row(s.name, s, model.path, reason))
    runs_student = any(r.spec.kind == "student" and r.reason is None for r in plan)
    if runs_student and student.teacher is not None and not student.teacher_is_model:
        plan.append(Row(TEACHER, parse_variant(REFERENCE, fmt=fmt), student.teacher))
    return plan


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


def _calibration_yaml(args, model: ModelChoice, data: ScoredData) -> Path | None:
    """Where INT8 calibration (and pruning fine-tune) images come from: never the scored images."""
    if args.calib_data is not None:
        return args.calib_data
    if data.calib_yaml is not None:
        return data.calib_yaml
    if model.reference is not None:
        from harness.data.synth import ensure_dataset

        return ensure_dataset() / "data.yaml"
    return None


def _job(args, model: ModelChoice, data: ScoredData, device, row: Row, out_dir: Path,
         student: StudentSetup | None = None) -> dict:
    from common.paths import artifacts_dir

    spec = row.spec
    return {
        "job_version": 1,
        "variant": spec.name, "format": spec.fmt, "source": str(row.source), "imgsz": model.imgsz,
        "nc": len(model.names),
        "student_source": None if student is None or spec.kind != "student" else str(student.path),
        "data_yaml": None if (c := _calibration_yaml(args, model, data)) is None else str(c),
        "calib_images": args.calib_images,
        "finetune_epochs": getattr(args, "finetune_epochs", 10),
        "cache_dir": str(artifacts_dir()),
        "device": device.requested, "threads": args.threads,
        "frames": {"kind": data.kind, "paths": list(data.image_paths or ()), "video": data.video_path, "count": data.count},
        "conf": args.conf, "iou": args.iou, "max_det": args.max_det,
        "timing": {"min_iters": args.min_iters, "min_seconds": args.min_seconds, "warmup_max_s": args.warmup_max_s},
        "out": str(out_dir),
    }


def run_benchmark(args: argparse.Namespace, *, argv: list[str]) -> tuple[dict, str | None, list[str]]:
    """Run the whole benchmark; returns ``(record, archived path or None, output lines)``."""
    from devices.resolve import resolve_device
    from harness import render, worker
    from harness.evaluation import score_variants
    from results.record import model_entry, new_record, variant_entry

    if not args.no_archive:
        from results.archive import default_root
        from results.schema import check_name

        check_name(args.release, "a release name (letters, digits, . _ + -)", "--release")
        archive_root = default_root(args.archive)
    device = resolve_device(args.device)
    model = resolve_model(args)
    data = load_data(args, model)
    student = resolve_student(args, model) if wants_student(args, model) else None
    plan = plan_variants(args, model, device, student)
    outcomes: dict[str, worker.Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp, render.progress(quiet=args.json) as progress:
        for row in plan:
            if row.reason is not None:
                outcomes[row.name] = worker.Outcome.skipped(row.spec, row.reason)
                continue
            job = _job(args, model, data, device, row, Path(tmp) / row.name, student)
            outcomes[row.name] = worker.run_isolated(job, timeout=args.timeout, progress=progress.callback(row.name))
        scored = score_variants(data, outcomes, reference=REFERENCE, operating_conf=args.operating_conf,
                                bootstrap=args.bootstrap)
    vs_models = ({} if student is None else
                 student_comparisons(student, plan, outcomes, scored, bootstrap=args.bootstrap))
    entries = []
    for row in plan:
        spec = row.spec
        o, s = outcomes[row.name], scored.get(row.name)
        role = "teacher" if row.name == TEACHER else "student" if spec.kind == "student" and student else None
        entries.append(variant_entry(
            name=row.name, format=spec.fmt, precision=spec.precision, status=o.status, reason=o.reason,
            error_tail=o.error_tail, artifact=o.manifest, timing=o.timing,
            accuracy=None if s is None else s.accuracy, vs_reference=None if s is None else s.vs_reference,
            localization=None if s is None else s.localization, telemetry=o.telemetry,
            per_frame_iou=None if s is None or s.per_frame_iou is None else s.per_frame_iou,
            extra={"runtime": o.runtime} if o.runtime else None,
            source_model=None if role is None else student.source_model(role),
            vs_models=vs_models.get(row.name)))
    settings = {"conf": args.conf, "iou": args.iou, "max_det": args.max_det, "operating_conf": args.operating_conf,
                "threads": args.threads, "batch": 1, "imgsz": model.imgsz, "min_iters": args.min_iters,
                "min_seconds": args.min_seconds, "bootstrap": args.bootstrap, "force": args.force,
                "data_note": data.note}
    runtime_versions = {k: v for o in outcomes.values() for k, v in (o.versions or {}).items()}
    record = new_record(
        release=args.release, command=argv, device=device.profile.name, hardware=device.to_dict(),
        runtime_versions=runtime_versions,
        model=model_entry(model.path, name=model.name, family=model.family, imgsz=model.imgsz,
                          classes=model.names, sha256=model.sha256),
        data={"kind": data.kind, "source": data.source, "count": data.count, "with_ground_truth": data.truth is not None},
        variants=entries, settings=settings)
    archived = None
    if not args.no_archive:
        from results.archive import Archive

        archived = str(Archive(archive_root).save(record))
    lines = []
    if args.out is not None:
        from harness.outputs import write_outputs

        lines = write_outputs(args.out, data, scored, outcomes, annotate=args.annotate, conf=args.operating_conf)
    return record, archived, lines
