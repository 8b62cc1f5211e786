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

import numpy as np

from harness.errors import InputError, expected

REFERENCE = "fp32"


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
                           reference=ref.name)
    from exporters.source import inspect_source

    src = inspect_source(args.model)
    imgsz = src.imgsz or 640
    return ModelChoice(path=src.path, kind=src.kind, name=src.path.stem, family=src.family, imgsz=int(imgsz),
                       names=tuple(src.names), sha256=src.sha256, reference=None)


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


def plan_variants(args: argparse.Namespace, model: ModelChoice, device) -> list[tuple[object, str | None]]:
    """Parse the variant list; return ``(spec, skip_reason)`` pairs with FP32 first."""
    from exporters.spec import parse_variant
    from harness.reference import available

    fmt = args.format or ("trt" if device.runtime.runtime == "tensorrt" else "onnx")
    if args.variants is None:
        names = ["fp32", "fp16", "int8", "pruned30"]
        if model.reference and f"{model.reference}-student" in available():
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
        elif s.kind == "student" and _student_source(model) is None:
            reason = "no distilled student for this model (train one: bench train --arch yolo11n --teacher TEACHER.pt)"
        elif not args.force and s.name != REFERENCE:
            reason = device.skip_reason(s.precision)
            if reason is not None:
                reason += " (--force runs it anyway)"
        plan.append((s, reason))
    return plan


def _student_source(model: ModelChoice) -> Path | None:
    from harness.reference import MODELS_DIR

    if model.reference is None:
        return None
    p = MODELS_DIR / f"{model.reference}-student.pt"
    return p if p.is_file() else None


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


def _job(args, model: ModelChoice, data: ScoredData, device, spec, out_dir: Path) -> dict:
    from harness.paths import cache_root

    return {
        "job_version": 1,
        "variant": spec.name, "format": spec.fmt, "source": str(model.path), "imgsz": model.imgsz,
        "nc": len(model.names),
        "student_source": None if (s := _student_source(model)) is None else str(s),
        "data_yaml": None if (c := _calibration_yaml(args, model, data)) is None else str(c),
        "calib_images": args.calib_images,
        "cache_dir": str(cache_root() / "artifacts"),
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
    plan = plan_variants(args, model, device)
    outcomes: dict[str, worker.Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp, render.progress(quiet=args.json) as progress:
        for spec, reason in plan:
            if reason is not None:
                outcomes[spec.name] = worker.Outcome.skipped(spec, reason)
                continue
            job = _job(args, model, data, device, spec, Path(tmp) / spec.name)
            outcomes[spec.name] = worker.run_isolated(job, timeout=args.timeout, progress=progress.callback(spec.name))
        scored = score_variants(data, outcomes, reference=REFERENCE, operating_conf=args.operating_conf,
                                bootstrap=args.bootstrap)
    entries = []
    for spec, _ in plan:
        o, s = outcomes[spec.name], scored.get(spec.name)
        entries.append(variant_entry(
            name=spec.name, format=spec.fmt, precision=spec.precision, status=o.status, reason=o.reason,
            error_tail=o.error_tail, artifact=o.manifest, timing=o.timing,
            accuracy=None if s is None else s.accuracy, vs_reference=None if s is None else s.vs_reference,
            localization=None if s is None else s.localization, telemetry=o.telemetry,
            per_frame_iou=None if s is None or s.per_frame_iou is None else s.per_frame_iou,
            extra={"runtime": o.runtime} if o.runtime else None))
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
