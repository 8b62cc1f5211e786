"""The plan of ``bench run``: the model, the scored data and the rows, resolved once before anything runs.

:func:`resolve_model` validates the source model, :func:`load_data` the frames and their ground truth,
:func:`plan_variants` turns ``--variants`` into rows (FP32 first, the teacher's FP32 last with a
student) and :func:`make_task` the typed work of one row: the host-side :class:`harness.worker.BuildRequest`
and the device's :class:`devices.job.Job`, with frames named relative to a frames root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from common.errors import InputError, expected
from harness.options import RunOptions

__all__ = ["REFERENCE", "TEACHER", "ModelChoice", "Row", "ScoredData", "calibration_yaml", "frames_of",
           "load_data", "make_task", "not_built_reason", "plan_variants", "resolve_model"]

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
    own_imgsz: int | None = None  # the model's own (training) size when --imgsz overrides it, else None

    def with_imgsz(self, imgsz: int | None) -> ModelChoice:
        """This model run at ``--imgsz`` (every row: export, calibration, preprocessing, scoring).

        A ``.pt`` is exported at any size; an ``.onnx`` has a fixed input, so another size is one line.

        Example:
            >>> m = ModelChoice(Path("m.pt"), "pt", "m", "yolo11", 640, ("a",), "0" * 64, None)
            >>> m.with_imgsz(416).imgsz, m.with_imgsz(416).own_imgsz, m.with_imgsz(640).own_imgsz
            (416, 640, None)
        """
        if imgsz is None or imgsz == self.imgsz:
            return self
        if self.kind == "onnx":
            raise InputError(expected(f"--imgsz {self.imgsz} or none (the input of {self.path.name} is fixed at "
                                      f"{self.imgsz} px; export it at {imgsz} or pass the .pt)", imgsz, "--imgsz"))
        return replace(self, imgsz=int(imgsz), own_imgsz=self.imgsz)


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


def resolve_model(opts: RunOptions) -> ModelChoice:
    """The model to benchmark: ``--model`` or the shipped reference YOLO11n, at ``--imgsz`` when given."""
    return _source_model(opts).with_imgsz(opts.imgsz)


def _source_model(opts: RunOptions) -> ModelChoice:
    from harness.reference import reference_model

    if opts.model is None:
        ref = reference_model()
        return ModelChoice(path=ref.weights, kind="pt", name=ref.name, family=ref.info.get("family", "yolo11"),
                           imgsz=ref.imgsz, names=tuple(ref.info["classes"]), sha256=ref.info["sha256"],
                           reference=ref.name, arch=ref.info.get("arch"))
    from exporters.source import inspect_source
    from harness.preflight import safe_name

    src = inspect_source(opts.model)
    imgsz = src.imgsz or 640
    # the record's model name is a path component of the archive: a safe form of the file's name (the real
    # one stays in the record's model path)
    return ModelChoice(path=src.path, kind=src.kind, name=safe_name(src.path.stem), family=src.family, imgsz=int(imgsz),
                       names=tuple(src.names), sha256=src.sha256, reference=None, arch=src.arch)


def load_data(opts: RunOptions, model: ModelChoice) -> ScoredData:
    """Load and validate the scored frames once; the class count must agree with the model's."""
    if opts.video is not None:
        from harness.data.video import load_video

        src = load_video(opts.video, opts.gt, n_classes=len(model.names))
        n = src.n_frames if opts.limit is None else min(src.n_frames, opts.limit)
        truth = None if src.truth is None else src.truth[:n]
        note = f"first {n} of {src.n_frames} frames (--limit)" if n < src.n_frames else None
        return ScoredData("video", str(opts.video), None, str(opts.video), n, truth, model.names, None, note)
    if opts.coco is not None:
        from harness.data.coco import load_coco_dataset

        ds = load_coco_dataset(opts.coco, opts.images, limit=opts.limit)
        if len(ds.names) != len(model.names):
            raise InputError(expected(f"annotations with the model's {len(model.names)} classes", f"{len(ds.names)} categories",
                                      str(opts.coco)))
        return _from_dataset(ds, None)
    if opts.images is not None and opts.data is None:
        from harness.data.dataset import load_image_folder

        ds = load_image_folder(opts.images, limit=opts.limit, names=model.names)
        return _from_dataset(ds, None)
    if opts.data is not None:
        data_yaml = opts.data
    else:
        from harness.data.synth import ensure_dataset

        data_yaml = ensure_dataset() / "data.yaml"
    from harness.data.yolo import load_yolo_dataset

    ds = load_yolo_dataset(data_yaml, split=opts.split, limit=opts.limit)
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


def plan_variants(opts: RunOptions, model: ModelChoice, device,
                  student=None) -> list[Row]:
    """Parse the variant list; return the rows with FP32 first (and the teacher's FP32 last, with a student).

    ``student``: the run's :class:`harness.student.StudentSetup`, or None.
    """
    from devices.runtimes import runtime_info
    from exporters.kinds import buildable
    from exporters.spec import default_variants, parse_variant

    fmt = opts.format or runtime_info(device.runtime.runtime).build_format  # the format its runtime loads
    if opts.variants is None:
        names = list(default_variants(fmt))  # bf16 too where the run's format is OpenVINO's
        if student is not None:
            names.append("student")
    else:
        names = [n.strip() for n in opts.variants.split(",") if n.strip()]
        if not names:
            raise InputError(expected("at least one variant name", repr(opts.variants), "--variants"))
    specs = []  # (row name, spec): NAME+RUNTIME runs NAME on that runtime (its format), named so in the table
    for n in names:
        base, plus, rt = (part.strip() for part in n.partition("+"))
        s = parse_variant(base, fmt=runtime_info(rt, where="--variants").build_format if plus else fmt)
        specs.append((f"{s.name}+{rt}" if plus else s.name, s))
    seen, unique = set(), []
    for row_name, s in specs:
        if row_name not in seen:
            seen.add(row_name)
            unique.append((row_name, s))
    if REFERENCE not in seen:  # drops are measured against FP32: it always runs
        unique.insert(0, (REFERENCE, parse_variant(REFERENCE, fmt=fmt)))
    unique.sort(key=lambda item: item[0] != REFERENCE)
    plan = []
    for row_name, s in unique:
        reason = None
        if s.needs_pytorch and model.kind != "pt":
            reason = f"{s.name} needs the PyTorch model (.pt); the source is {model.path.name}"
        elif s.kind == "student" and student is None:
            reason = (f"no distilled student for this model (train one: bench train --arch {model.arch or 'yolo11n'} "
                      "--teacher TEACHER.pt, or pass --student S.pt)")
        elif not opts.force and row_name != REFERENCE:
            reason = device.skip_reason(s.precision, fmt=s.fmt)
            if reason is not None and not buildable(s.precision, s.fmt) and not device.runs_fast(s.precision):
                reason = not_built_reason(device, s.precision, s.fmt)  # the profile's text is another runtime's
            # forcing a row its format does not build, or its runtime cannot run, gives a failed row: no promise
            if reason is not None and buildable(s.precision, s.fmt) and device.force_runs(s.precision, fmt=s.fmt):
                reason += " (--force runs it anyway)"
        plan.append(Row(row_name, s, model.path, reason))
    runs_student = any(r.spec.kind == "student" and r.reason is None for r in plan)
    if runs_student and student.teacher is not None and not student.teacher_is_model:
        plan.append(Row(TEACHER, parse_variant(REFERENCE, fmt=fmt), student.teacher))
    return plan


def not_built_reason(device, precision: str, fmt: str) -> str:
    """The skip reason of a row whose format builds no artifact of its precision (``fp16`` on OpenVINO).

    The profile's slow-precision text speaks of the runtime that has such an artifact (the ``cpu``
    profile's ``fp16``: ONNX Runtime's CPU kernels), so the row on the other runtime says what is true there.

    Example:
        >>> from devices.resolve import resolve_device
        >>> not_built_reason(resolve_device("cpu"), "fp16", "openvino").split(";")[0]
        'fp16 is not built for OpenVINO: OpenVINO on a CPU has no FP16 artifact here'
    """
    from devices.runtimes import runtime_info
    from exporters.kinds import buildable

    try:
        entry = device.runtime_for(fmt)
    except InputError:  # that runtime is not available here: the profile's entry for the format
        entry = next((e for e in device.profile.runtimes if runtime_info(e.runtime).build_format == fmt), device.runtime)
    info = runtime_info(entry.runtime)
    label, cpu = info.label or info.name, info.is_cpu(entry)
    where = "a CPU" if cpu else device.profile.name
    reason = f"{precision} is not built for {label}: {label} on {where} has no {precision.upper()} artifact here"
    if precision == "fp16" and cpu and buildable("bf16", fmt):
        reason += "; bf16 is the CPU's reduced precision (the bf16 row)"
    return reason


def calibration_yaml(opts: RunOptions, model: ModelChoice, data: ScoredData) -> Path | None:
    """Where INT8 calibration (and pruning fine-tune) images come from: never the scored images."""
    if opts.calib_data is not None:
        return opts.calib_data
    if data.calib_yaml is not None:
        return data.calib_yaml
    if model.reference is not None:
        from harness.data.synth import ensure_dataset

        return ensure_dataset() / "data.yaml"
    return None


def frames_of(data: ScoredData) -> tuple[Path, tuple[str, ...]]:
    """The frames root and the frame names relative to it (POSIX style), as a :class:`devices.job.FrameSet` holds them.

    Example:
        >>> d = ScoredData("images", "x", ("/d/images/a.jpg", "/d/images/sub/b.jpg"), None, 2, None, (), None, None)
        >>> frames_of(d)
        (PosixPath('/d/images'), ('a.jpg', 'sub/b.jpg'))
    """
    if data.kind == "video":
        video = Path(data.video_path).resolve()
        return video.parent, (video.name,)
    paths = [os.path.abspath(p) for p in data.image_paths or ()]
    if not paths:
        return Path("."), ()
    root = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0])
    if root in paths:  # one image, or all the same file
        root = os.path.dirname(root)
    return Path(root), tuple(PurePath(os.path.relpath(p, root)).as_posix() for p in paths)


def make_task(opts: RunOptions, model: ModelChoice, data: ScoredData, device, row: Row, student=None):
    """The typed work of one row: ``(BuildRequest, Job, frames root)``.

    ``device`` is the resolved device (:class:`devices.resolve.ResolvedDevice`): its profile NAME,
    runtime NAME and providers go into the Job, so the worker never detects the device again.
    """
    from common.paths import artifacts_dir
    from devices.job import FrameSet, Job, NmsSettings, TimingOptions
    from devices.resolve import runtime_for
    from harness.worker import BuildRequest

    spec = row.spec
    calib = calibration_yaml(opts, model, data)
    build = BuildRequest(
        source=str(row.source), variant=spec.name, format=spec.fmt, imgsz=model.imgsz, cache_dir=str(artifacts_dir()),
        data_yaml=None if calib is None else str(calib), calib_images=opts.calib_images,
        student_source=None if student is None or spec.kind != "student" else str(student.path),
        options=dict(opts.variant_options))
    root, names = frames_of(data)
    entry = runtime_for(device, spec.fmt)
    job = Job(variant=row.name, precision=spec.precision, runtime=entry.runtime, device=device.profile.name,
              artifact=None, imgsz=model.imgsz, nc=len(model.names), frames=FrameSet(data.kind, data.count, names),
              nms=NmsSettings(conf=opts.conf, iou=opts.iou, max_det=opts.max_det),
              timing=TimingOptions(min_iters=opts.min_iters, min_seconds=opts.min_seconds,
                                   warmup_max_s=opts.warmup_max_s),
              threads=opts.threads, providers=_providers(device, entry), batch=opts.batch)
    return build, job, root


def _providers(device, entry) -> tuple[str, ...]:
    """The runtime entry's providers that are available here, in the profile's order (what the runtime
    would pick itself), so the worker opens exactly what the parent resolved."""
    status = getattr(getattr(device, "hardware", None), "runtimes", {}).get(entry.runtime)
    available = set(getattr(status, "providers", ()) or ())
    return tuple(p for p in getattr(entry, "providers", ()) if p in available)
