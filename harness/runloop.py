"""The run loop of ``bench run``: check, plan, run each row isolated, score against FP32, build and archive the record.

Measure (worker) -> aggregate (scorer) -> store (results.archive); rendering is left to the CLI.
The plan (model, data, rows) is :mod:`harness.plan`, the distilled student and its teacher
:mod:`harness.student`; the options are one frozen :class:`harness.options.RunOptions`.

Before the first variant: the archive root is a writable folder and the record's path can be formed,
the cache is a folder, ``--out`` is not a file, and the model's input and outputs are a YOLO detect
model's (:mod:`harness.preflight`). After the rows: when every row that ran failed on the same input
error raised inside its worker, that is the run's error (exit 2), and nothing is archived. When saving
the record fails, it is written to ``./bench-record-<run id>.json`` (or the temp folder) and the one
line says where.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from common.errors import InputError
from harness.options import RunOptions
from harness.plan import (REFERENCE, TEACHER, ModelChoice, Row, ScoredData, load_data, make_task,  # noqa: F401
                          plan_variants, resolve_model)
from harness.student import resolve_student, shipped_student, student_comparisons, wants_student  # noqa: F401
from harness.control import control_entries, resolve_controls, with_control_rows

TERMINATED_EXIT = 143  # 128 + SIGTERM


@contextlib.contextmanager
def exit_on_sigterm():
    """SIGTERM raises ``SystemExit(143)`` after one line on stderr, so every ``finally`` runs: the worker's
    process group is killed and the ``bench-run-*`` temp folder removed. Only in the main thread."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one line, even if sent twice
        print("bench: terminated", file=sys.stderr, flush=True)
        raise SystemExit(TERMINATED_EXIT)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def preflight(opts: RunOptions):
    """Checks that need no model: the archive root and release name, the cache folder, ``--out``.

    Returns:
        The archive root, or None with ``--no-archive``.
    """
    from harness.preflight import check_cache, check_out

    archive_root = None
    if not opts.no_archive:
        from results.archive import check_writable_root, default_root
        from results.schema import check_name

        check_name(opts.release, "a release name (letters, digits, . _ + -)", "--release")
        archive_root = check_writable_root(default_root(opts.archive))
    check_cache()
    check_out(opts.out)
    return archive_root


def run_benchmark(opts: RunOptions, *, argv: list[str]):
    """Run the whole benchmark; returns ``(record, archived path or None, output lines)``."""
    from devices.resolve import resolve_device
    from harness import render, worker
    from harness.evaluation import score_variants
    from harness.preflight import check_model_shape

    render.preparing(quiet=opts.json)  # a line from the first second (a first run generates the dataset next)
    archive_root = preflight(opts)
    device = resolve_device(opts.device, runtime=opts.runtime)
    model = resolve_model(opts)
    check_model_shape(model)
    data = load_data(opts, model)
    student = resolve_student(opts, model) if wants_student(opts, model) else None
    plan = plan_variants(opts, model, device, student)
    controls = resolve_controls(opts, model, data, plan, student=student)  # like-for-like control (harness.control)
    plan = with_control_rows(plan, controls)
    outcomes: dict[str, worker.Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp, render.progress(
            quiet=opts.json, rows=sum(row.reason is None for row in plan)) as progress:
        for row in plan:
            if row.reason is not None:
                outcomes[row.name] = worker.Outcome.skipped(row.spec, row.reason)
                continue
            build, job, frames_root = make_task(opts, model, data, device, row, student)
            outcomes[row.name] = worker.run_isolated(build, job, frames_root=frames_root, out=Path(tmp) / row.name,
                                                     timeout=opts.timeout, progress=progress.callback(row.name))
        _raise_common_input_error(outcomes)
        scored = score_variants(data, outcomes, reference=REFERENCE, operating_conf=opts.operating_conf,
                                bootstrap=opts.bootstrap)
    record = build_record(opts, argv, device, model, data, student, plan, outcomes, scored, controls=controls)
    archived = None
    if archive_root is not None:
        archived = str(_save(archive_root, record))
    lines = []
    if opts.out is not None:
        from harness.outputs import write_outputs

        lines = write_outputs(opts.out, data, scored, outcomes, annotate=opts.annotate, conf=opts.operating_conf)
    return record, archived, lines


def build_record(opts: RunOptions, argv: list[str], device, model: ModelChoice, data: ScoredData, student, plan,
                 outcomes: dict, scored: dict, *, extra: dict | None = None, controls: tuple = ()):
    """The run's typed :class:`results.record.Record` (validated once) from its plan, outcomes and scores.

    Used by the local run loop and, per device, by the fleet (``extra`` carries its ``fleet`` block).
    """
    from results.record import model_entry, new_record, variant_entry

    vs_models = ({} if student is None else
                 student_comparisons(student, plan, outcomes, scored, bootstrap=opts.bootstrap))
    control_vs, control_sources = control_entries(controls, model, plan, outcomes, scored, bootstrap=opts.bootstrap)
    for name, entry in control_vs.items():  # pruned and derived student rows vs the control, beside the student's own
        vs_models[name] = {**vs_models.get(name, {}), **entry}
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
            source_model=control_sources.get(row.name) if role is None else student.source_model(role),
            vs_models=vs_models.get(row.name)))
    settings = {"conf": opts.conf, "iou": opts.iou, "max_det": opts.max_det, "operating_conf": opts.operating_conf,
                "threads": opts.threads, "batch": opts.batch, "imgsz": model.imgsz, "min_iters": opts.min_iters,
                "min_seconds": opts.min_seconds, "bootstrap": opts.bootstrap, "force": opts.force,
                "data_note": data.note}
    return new_record(
        release=opts.release, command=argv, device=device.profile.name, hardware=device.to_dict(),
        runtime_versions={k: v for o in outcomes.values() for k, v in (o.versions or {}).items()},
        model=model_entry(model.path, name=model.name, family=model.family, imgsz=model.own_imgsz or model.imgsz,
                          classes=model.names, sha256=model.sha256),
        data={"kind": data.kind, "source": data.source, "count": data.count, "with_ground_truth": data.truth is not None},
        variants=entries, settings=settings, extra=extra)


def _raise_common_input_error(outcomes: dict) -> None:
    """Every row that ran failed on bad input inside its worker: that is the run's error (one line), not a record.

    The line is the first row's reason; other rows that failed on a different one are named after it.
    """
    ran = {name: o for name, o in outcomes.items() if o.status != "skipped"}
    if not ran or not all(o.status == "failed" and o.input_error for o in ran.values()):
        return
    first = next(iter(ran.values())).reason
    others = [name for name, o in ran.items() if o.reason != first]
    if others:
        rows = "row" if len(others) == 1 else "rows"
        first += f" (and {len(others)} more {rows} failed on bad input: {', '.join(others)})"
    raise InputError(first)


def _save(root: Path, record) -> Path:
    """Archive the record; if that fails, keep it where the user can find it and say where (one line)."""
    from results.archive import Archive

    try:
        return Archive(root).save(record)
    except (InputError, OSError) as exc:
        data = record.to_dict() if hasattr(record, "to_dict") else record
        run_id = data.get("run_id", "run") if isinstance(data, dict) else "run"
        text = json.dumps(data, indent=1, default=str) + "\n"
        for folder in (Path.cwd(), Path(tempfile.gettempdir())):
            kept = folder / f"bench-record-{run_id}.json"
            try:
                fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
            except OSError:
                continue
            raise InputError(f"{exc}; the record was kept in {kept} (copy it into the archive by hand)") from None
        raise InputError(f"{exc}; the record could not be kept anywhere either") from None
