"""The run record: one JSON file per ``bench run``, its versions, and its validator.

The typed form lives in :mod:`results.schema_types`, the checks in :mod:`results.schema_check`
and the migrations in :mod:`results.schema_migrate`; every public name is re-exported here.

Format versions (each has a frozen example in ``tests/results/data/``):

* **1** — first released format (bench 0.1). Layout below.
* **2** — adds two optional variant keys for the distilled student and its teacher:
  ``source_model`` (which model a row was built from, when it is not the run's model) and
  ``vs_models`` (a student's drops against the same-size plain model's FP32 and against its
  teacher's FP32). A version-1 record migrates unchanged: it has neither.

Absent means *not measured*: a key that is missing or ``null`` was not measured
on this run; bench never writes 0 for something it did not measure. Numbers are
finite (JSON has no NaN); FPS, FPS ratios and the inference and end-to-end times
are > 0 when present (0 is not a measurement); times are milliseconds; IoU, mAP, precision and recall
are fractions in [0, 1]; mAP drops are in points (percent of the reference).
Every object may carry an ``"extra"`` object for fields not in this version;
any other unknown key is refused, so a typo cannot pass as a missing value.

Record, schema_version 2::

    schema_version     1
    run_id             "20261121T233000Z-1a2b3c"  (UTC start time + random hex; file name)
    created_utc        "2026-11-21T23:30:00Z"      (ISO 8601, UTC)
    release            "v1.2"                       (letters, digits, . _ + -; no "..")
    harness            {"version": "0.1.0", "git_commit": "<sha>" | null}
    command            ["bench", "run", ...]        (argv of the run)
    device             {"profile": "cpu", "hardware": {...}}   (hardware as detected, free-form)
    runtime_versions   {"onnxruntime": "1.22.0", ...}          (name -> version | null)
    model              {"path", "sha256" (64 hex), "name" (file-safe), "family", "imgsz", "classes"}
    data               {"kind": "images" | "video", "source", "count", "with_ground_truth"}
    settings           {"conf", "iou", "max_det", "operating_conf", "threads", "batch", ...} free-form
    variants           [variant, ...]               (names unique)

Variant::

    name, format, precision    "int8", "onnx", "int8"
    status                     "ok" | "skipped" | "failed"  (skipped/failed need a "reason")
    reason, error_tail         why it was skipped or failed; last lines of the error
    artifact                   the exporter's manifest (free-form) or null
    timing                     {"preprocess"|"inference"|"postprocess"|"end_to_end": stage,
                                "fps", "pipelined_fps", "warmup_iterations", "timed_seconds",
                                "inference_samples_ms": array, "end_to_end_samples_ms": array,
                                "extra": {"samples_order": "call"}}
                               (the samples are stored in the order they were measured;
                               ``extra.samples_order`` says so, and a record without it
                               predates the marker: ``bench compare`` then says it assumed
                               that order)
       stage                   {"p50_ms","p90_ms","p95_ms","p99_ms","max_ms","mean_ms","std_ms","n"}
       batch                   optional (no version change: older records lack it; ``bench run --batch N``,
                               N > 1): the throughput pass on the artifact exported with a static batch N
                               {"batch": N, "images_per_s", "batch_p50_ms", "batch_p99_ms", "batch_mean_ms",
                                "n" (timed calls), "timed_seconds", "warmup_iterations", "artifact" (file name),
                                optional "samples_ms" (array, the calls in call order) and "cpu_wait_share"
                                (0..1, as telemetry.process's): what results.validity judges the pass by}
                               (one sample = preprocess of N frames + one inference + N postprocesses;
                               images_per_s = N x calls / the timed window)
    accuracy                   {"map50_95","map50","coco_stats" (12 numbers, -1 = undefined),
                                "precision","recall","f1","avg_iou_per_frame","mean_tp_iou",
                                "per_class_ap": {class: ap | null},
                                "yolo_val": optional, free-form (no version change: older records
                                lack it): what ``yolo val`` shows, from :mod:`harness.metrics.yolo_val`
                                {"confusion": {"conf", "iou", "cells": [[pred, true, count]]} (class
                                index nc = background), "curves": {"conf": [0, 1, 101], "precision",
                                "recall", "f1"} (class means), "f1_optimal": {"conf", "precision",
                                "recall", "f1"}, "per_class": {class: {"n_gt", "precision", "recall",
                                "map50", "map50_95"}}}}   (null without ground truth)
    vs_reference               {"reference": variant name, "map_drop_points", "map_drop_ci95": [lo, hi],
                                "map_pct_of_reference", "iou_drop", "agreement_mean_iou",
                                "agreement_recall"}
    localization, telemetry    free-form objects with only what was measured
    per_frame_iou              array with gaps (average IoU per frame in frame order; a frame
                               without ground truth is a gap), for histograms and video plots
    source_model               (v2) the model this row was built from when it is not the run's
                               model: {"role": "student" | "teacher", "name", "path",
                               "sha256" (64 hex), "arch", "family"}; absent for the run's model
    vs_models                  (v2) {"plain" | "teacher": vs_model}: a distilled student's row
                               against other models' FP32 rows of the same run (absent otherwise)
       vs_model                {"reference": variant name | null, "label", "model": {...} | null,
                                "map_drop_points", "map_drop_ci95": [lo, hi],
                                "map_pct_of_reference", "fps_ratio" (this row's FPS / the
                                reference row's), "reason" (why nothing was measured; needed
                                when reference is null), "note"}
                               "plain" is the same-size plain model (the run's ``fp32`` row,
                               only when the run's model has the student's architecture),
                               "teacher" the distillation teacher's FP32 (the ``teacher`` row);
                               "control" (on a pruned row) the run's model fine-tuned as many
                               epochs as the pruned one, unpruned (the ``fp32+ftE`` row, source
                               role "control"; reference null with the reason when none was found)

An *array* is ``{"encoding": "list" | "f4-zlib-b64", "n": count, "data": ...}``
(see :mod:`results.encoding`).

Example:
    >>> import json, pathlib
    >>> path = pathlib.Path(__file__).parents[1] / "tests/results/data/record_v1.json"
    >>> record = validate_record(json.loads(path.read_text()), str(path))  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from types import MappingProxyType

from results.encoding import decode_floats
from results.schema_check import _Check, _kind, _show, check_name
from results.schema_migrate import MIGRATIONS, SCHEMA_VERSION, migrate
from results.schema_types import NAME_RE as NAME_RE  # noqa: F401 - importable from here as before
from results.schema_types import (ACCURACY_FRACTIONS, RELEASE_RE, RUN_ID_RE, SAMPLES_ORDER, SOURCE_ROLES,
                                  STAGE_KEYS, STAGES, STATUSES, VS_MODEL_ROLES, _TIMED_STAGES, Accuracy, BatchTiming,
                                  DataInfo, DeviceInfo, HarnessInfo, ModelInfo, Record, RowSource, StageStats, Timing,
                                  Variant, VsModel, VsReference, _freeze, _parse_utc)

__all__ = [
    "SAMPLES_ORDER", "SCHEMA_VERSION", "MIGRATIONS", "RELEASE_RE", "RUN_ID_RE", "STATUSES", "STAGES",
    "Accuracy", "BatchTiming", "DataInfo", "DeviceInfo", "HarnessInfo", "ModelInfo", "Record", "StageStats",
    "RowSource", "Timing", "Variant", "VsModel", "VsReference", "check_name", "migrate", "validate_record",
]

__test__ = {"check_name": check_name}  # its example moved with it to results/schema_check.py: still run here


# ---------------------------------------------------------------- validation

def validate_record(obj: object, where: str) -> Record:
    """Validate (and migrate) a record read from JSON; return it as an immutable :class:`Record`.

    Args:
        obj: the parsed JSON document.
        where: the file it came from, used in every error message.

    Returns:
        The validated record.

    Raises:
        InputError: one line naming ``where``, the JSON path and what was wrong.

    Example:
        >>> validate_record({"schema_version": 9}, "r.json")
        Traceback (most recent call last):
        ...
        common.errors.InputError: r.json at schema_version: expected schema_version <= 2 ...
    """
    c = _Check(where)
    c.obj(obj, "")
    obj = migrate(obj, where)
    top = ("schema_version", "run_id", "created_utc", "release", "harness", "command", "device",
           "runtime_versions", "model", "data", "settings", "variants")
    c.obj(obj, "", top, required=tuple(k for k in top if k != "settings"))
    run_id = c.string(obj["run_id"], "run_id")
    if not RUN_ID_RE.match(run_id):
        c.fail("a run id like 20261121T233000Z-1a2b3c", _show(run_id), "run_id")
    created = c.string(obj["created_utc"], "created_utc")
    try:
        _parse_utc(created)
    except ValueError:
        c.fail("an ISO 8601 UTC time like 2026-11-21T23:30:00Z", _show(created), "created_utc")
    release = check_name(obj["release"], "a release name", c.at("release"))

    h = c.obj(obj["harness"], "harness", ("version", "git_commit"), required=("version",))
    harness = HarnessInfo(c.string(h["version"], "harness.version"),
                          c.string(h.get("git_commit"), "harness.git_commit", null=True))
    command = obj["command"]
    if not isinstance(command, list) or not all(isinstance(a, str) for a in command):
        c.fail("the command line as a list of strings", _show(command), "command")

    d = c.obj(obj["device"], "device", ("profile", "hardware"), required=("profile", "hardware"))
    device = DeviceInfo(check_name(d["profile"], "a device profile name", c.at("device.profile")),
                        c.free(d["hardware"], "device.hardware", null=False))
    versions = c.obj(obj["runtime_versions"], "runtime_versions")
    for name, version in versions.items():
        c.string(version, f"runtime_versions.{name}", null=True)

    m = c.obj(obj["model"], "model", ("path", "sha256", "name", "family", "imgsz", "classes"),
              required=("path", "sha256", "name"))
    sha = c.string(m["sha256"], "model.sha256")
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        c.fail("a SHA-256 as 64 lowercase hex digits", _show(sha), "model.sha256")
    classes = m.get("classes")
    if classes is not None and (not isinstance(classes, list) or not all(isinstance(x, str) for x in classes)):
        c.fail("a list of class names or null", _show(classes), "model.classes")
    model = ModelInfo(c.string(m["path"], "model.path"), sha,
                      check_name(m["name"], "a model name", c.at("model.name")),
                      c.string(m.get("family"), "model.family", null=True),
                      c.integer(m.get("imgsz"), "model.imgsz", lo=1),
                      tuple(classes) if classes is not None else None)

    dd = c.obj(obj["data"], "data", ("kind", "source", "count", "with_ground_truth"),
               required=("kind", "source", "count", "with_ground_truth"))
    if dd["kind"] not in ("images", "video"):
        c.fail("'images' or 'video'", _show(dd["kind"]), "data.kind")
    if not isinstance(dd["with_ground_truth"], bool):
        c.fail("true or false", _show(dd["with_ground_truth"]), "data.with_ground_truth")
    data = DataInfo(dd["kind"], c.string(dd["source"], "data.source"),
                    c.integer(dd["count"], "data.count", null=False), dd["with_ground_truth"])
    settings = c.free(obj.get("settings", {}), "settings", null=False)

    if not isinstance(obj["variants"], list):
        c.fail("a list of variants", _kind(obj["variants"]), "variants")
    variants = tuple(_variant(c, v, f"variants[{i}]", data) for i, v in enumerate(obj["variants"]))
    names = [v.name for v in variants]
    for i, v in enumerate(variants):
        if names.index(v.name) != i:
            c.fail("unique variant names", f"{v.name!r} twice", f"variants[{i}].name")
        for role, vm in v.vs_models.items():
            if vm.reference is not None and vm.reference not in names:
                c.fail(f"the name of a variant of this run ({names})", repr(vm.reference),
                       f"variants[{i}].vs_models.{role}.reference")
        if v.vs_reference is not None and v.vs_reference.reference not in names:
            c.fail(f"the name of a variant of this run ({names})", repr(v.vs_reference.reference),
                   f"variants[{i}].vs_reference.reference")
    return Record(obj["schema_version"], run_id, created, release, harness, tuple(command), device,
                  _freeze(versions), model, data, settings, variants, _freeze(copy.deepcopy(obj)))


def _variant(c: _Check, v, path: str, data: DataInfo) -> Variant:
    keys = ("name", "format", "precision", "status", "reason", "error_tail", "artifact", "timing",
            "accuracy", "vs_reference", "localization", "telemetry", "per_frame_iou", "source_model", "vs_models")
    c.obj(v, path, keys, required=("name", "format", "precision", "status"))
    name = check_name(v["name"], "a variant name", c.at(f"{path}.name"))
    status = v["status"]
    if status not in STATUSES:
        c.fail(f"a status in {STATUSES}", _show(status), f"{path}.status")
    reason = c.string(v.get("reason"), f"{path}.reason", null=status == "ok", nonempty=True)
    accuracy = _accuracy(c, v.get("accuracy"), f"{path}.accuracy")
    if accuracy is not None and not data.with_ground_truth:
        c.fail("null accuracy (data.with_ground_truth is false)", "an accuracy object", f"{path}.accuracy")
    iou = v.get("per_frame_iou")
    per_frame = None if iou is None else decode_floats(iou, c.at(f"{path}.per_frame_iou"), allow_missing=True)
    if per_frame is not None and any(x is not None and (x < 0 or x > 1) for x in per_frame):
        c.fail("IoU values in [0, 1]", "a value outside", f"{path}.per_frame_iou")
    return Variant(
        name=name,
        format=c.string(v["format"], f"{path}.format", nonempty=True),
        precision=c.string(v["precision"], f"{path}.precision", nonempty=True),
        status=status,
        reason=reason,
        error_tail=c.string(v.get("error_tail"), f"{path}.error_tail", null=True),
        artifact=c.free(v.get("artifact"), f"{path}.artifact"),
        timing=_timing(c, v.get("timing"), f"{path}.timing"),
        accuracy=accuracy,
        vs_reference=_vs_reference(c, v.get("vs_reference"), f"{path}.vs_reference"),
        localization=c.free(v.get("localization"), f"{path}.localization"),
        telemetry=c.free(v.get("telemetry"), f"{path}.telemetry"),
        per_frame_iou=per_frame,
        source_model=_source_model(c, v.get("source_model"), f"{path}.source_model"),
        vs_models=_vs_models(c, v.get("vs_models"), f"{path}.vs_models"),
    )


def _timing(c: _Check, t, path: str) -> Timing | None:
    if t is None:
        return None
    keys = STAGES + ("fps", "pipelined_fps", "warmup_iterations", "timed_seconds",
                     "inference_samples_ms", "end_to_end_samples_ms", "batch")
    c.obj(t, path, keys)
    stages = {}
    for stage in STAGES:
        s = t.get(stage)
        if s is None:
            continue
        c.obj(s, f"{path}.{stage}", STAGE_KEYS + ("n",))
        values = {k: c.number(s.get(k), f"{path}.{stage}.{k}", lo=0, positive=stage in _TIMED_STAGES and k != "std_ms")
                  for k in STAGE_KEYS}
        ordered = [(k, values[k]) for k in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms") if values[k] is not None]
        for (k1, a), (k2, b) in zip(ordered, ordered[1:]):
            if a > b * (1 + 1e-6) + 1e-9:
                c.fail(f"{k1} <= {k2}", f"{a} > {b}", f"{path}.{stage}")
        stages[stage] = StageStats(**values, n=c.integer(s.get("n"), f"{path}.{stage}.n"))
    samples = {}
    for key in ("inference_samples_ms", "end_to_end_samples_ms"):
        raw = t.get(key)
        samples[key] = None if raw is None else decode_floats(raw, c.at(f"{path}.{key}"))
        if samples[key] is not None and any(x < 0 for x in samples[key]):
            c.fail("latencies >= 0", "a negative sample", f"{path}.{key}")
    extra = t.get("extra") or {}
    order = c.string(extra.get("samples_order"), f"{path}.extra.samples_order", null=True)
    return Timing(
        stages=MappingProxyType(stages),
        samples_order=order,
        fps=c.number(t.get("fps"), f"{path}.fps", positive=True),
        pipelined_fps=c.number(t.get("pipelined_fps"), f"{path}.pipelined_fps", positive=True),
        warmup_iterations=c.integer(t.get("warmup_iterations"), f"{path}.warmup_iterations"),
        timed_seconds=c.number(t.get("timed_seconds"), f"{path}.timed_seconds", lo=0),
        batch=_batch_timing(c, t.get("batch"), f"{path}.batch"),
        **samples,
    )


def _batch_timing(c: _Check, b, path: str) -> BatchTiming | None:
    if b is None:
        return None
    c.obj(b, path, ("batch", "images_per_s", "batch_p50_ms", "batch_p99_ms", "batch_mean_ms", "n", "timed_seconds",
                    "warmup_iterations", "artifact", "samples_ms", "cpu_wait_share"), required=("batch",))
    samples = None if b.get("samples_ms") is None else decode_floats(b["samples_ms"], c.at(f"{path}.samples_ms"))
    if samples is not None and any(x < 0 for x in samples):
        c.fail("latencies >= 0", "a negative sample", f"{path}.samples_ms")
    p50 = c.number(b.get("batch_p50_ms"), f"{path}.batch_p50_ms", positive=True)
    p99 = c.number(b.get("batch_p99_ms"), f"{path}.batch_p99_ms", positive=True)
    if p50 is not None and p99 is not None and p50 > p99 * (1 + 1e-6) + 1e-9:
        c.fail("batch_p50_ms <= batch_p99_ms", f"{p50} > {p99}", path)
    return BatchTiming(
        batch=c.integer(b.get("batch"), f"{path}.batch", lo=1, null=False),
        images_per_s=c.number(b.get("images_per_s"), f"{path}.images_per_s", positive=True),
        batch_p50_ms=p50, batch_p99_ms=p99,
        batch_mean_ms=c.number(b.get("batch_mean_ms"), f"{path}.batch_mean_ms", positive=True),
        n=c.integer(b.get("n"), f"{path}.n", lo=1),
        timed_seconds=c.number(b.get("timed_seconds"), f"{path}.timed_seconds", lo=0),
        warmup_iterations=c.integer(b.get("warmup_iterations"), f"{path}.warmup_iterations"),
        artifact=c.string(b.get("artifact"), f"{path}.artifact", null=True),
        samples_ms=None if samples is None else tuple(samples),
        cpu_wait_share=c.number(b.get("cpu_wait_share"), f"{path}.cpu_wait_share", lo=0, hi=1),
    )


def _accuracy(c: _Check, a, path: str) -> Accuracy | None:
    if a is None:
        return None
    c.obj(a, path, ACCURACY_FRACTIONS + ("coco_stats", "per_class_ap", "yolo_val"))
    values = {k: c.number(a.get(k), f"{path}.{k}", lo=0, hi=1) for k in ACCURACY_FRACTIONS}
    stats = a.get("coco_stats")
    if stats is not None:
        if not isinstance(stats, list) or len(stats) != 12:
            c.fail("12 COCO summary numbers", _show(stats) if not isinstance(stats, list) else f"{len(stats)}",
                   f"{path}.coco_stats")
        stats = tuple(c.number(x, f"{path}.coco_stats[{i}]", lo=-1, hi=1) for i, x in enumerate(stats))
        if None in stats:
            c.fail("numbers (-1 = undefined)", "null", f"{path}.coco_stats")
    per_class = c.obj(a.get("per_class_ap", {}), f"{path}.per_class_ap")
    per_class = {k: c.number(x, f"{path}.per_class_ap.{k}", lo=0, hi=1) for k, x in per_class.items()}
    return Accuracy(**values, coco_stats=stats, per_class_ap=MappingProxyType(per_class),
                    yolo_val=c.free(a.get("yolo_val"), f"{path}.yolo_val"))


def _ci95(c: _Check, ci, path: str) -> tuple[float, float] | None:
    if ci is None:
        return None
    if not isinstance(ci, list) or len(ci) != 2:
        c.fail("[low, high]", _show(ci), path)
    ci = (c.number(ci[0], f"{path}[0]", lo=-100, hi=100), c.number(ci[1], f"{path}[1]", lo=-100, hi=100))
    if None in ci or ci[0] > ci[1]:
        c.fail("low <= high", f"{list(ci)}", path)
    return ci


def _source_model(c: _Check, s, path: str) -> RowSource | None:
    if s is None:
        return None
    c.obj(s, path, ("role", "name", "path", "sha256", "arch", "family"), required=("role", "name", "sha256"))
    if s["role"] not in SOURCE_ROLES:
        c.fail(f"a role in {SOURCE_ROLES}", _show(s["role"]), f"{path}.role")
    sha = c.string(s["sha256"], f"{path}.sha256")
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        c.fail("a SHA-256 as 64 lowercase hex digits", _show(sha), f"{path}.sha256")
    return RowSource(role=s["role"], name=c.string(s["name"], f"{path}.name", nonempty=True), sha256=sha,
                       path=c.string(s.get("path"), f"{path}.path", null=True),
                       arch=c.string(s.get("arch"), f"{path}.arch", null=True),
                       family=c.string(s.get("family"), f"{path}.family", null=True))


def _vs_models(c: _Check, m, path: str) -> Mapping[str, VsModel]:
    if m is None:
        return MappingProxyType({})
    c.obj(m, path, VS_MODEL_ROLES)
    out = {}
    for role, r in m.items():
        if role == "extra":
            continue
        where = f"{path}.{role}"
        c.obj(r, where, ("reference", "label", "model", "map_drop_points", "map_drop_ci95", "map_pct_of_reference",
                         "fps_ratio", "reason", "note"), required=("reference", "label"))
        reference = c.string(r["reference"], f"{where}.reference", null=True, nonempty=True)
        reason = c.string(r.get("reason"), f"{where}.reason", null=reference is not None, nonempty=True)
        out[role] = VsModel(
            reference=reference,
            label=c.string(r["label"], f"{where}.label", nonempty=True),
            model=c.free(r.get("model"), f"{where}.model"),
            map_drop_points=c.number(r.get("map_drop_points"), f"{where}.map_drop_points", lo=-100, hi=100),
            map_drop_ci95=_ci95(c, r.get("map_drop_ci95"), f"{where}.map_drop_ci95"),
            map_pct_of_reference=c.number(r.get("map_pct_of_reference"), f"{where}.map_pct_of_reference", lo=0),
            fps_ratio=c.number(r.get("fps_ratio"), f"{where}.fps_ratio", positive=True),
            reason=reason,
            note=c.string(r.get("note"), f"{where}.note", null=True),
        )
    return MappingProxyType(out)


def _vs_reference(c: _Check, r, path: str) -> VsReference | None:
    if r is None:
        return None
    keys = ("reference", "map_drop_points", "map_drop_ci95", "map_pct_of_reference", "iou_drop",
            "agreement_mean_iou", "agreement_recall")
    c.obj(r, path, keys, required=("reference",))
    ci = r.get("map_drop_ci95")
    if ci is not None:
        if not isinstance(ci, list) or len(ci) != 2:
            c.fail("[low, high]", _show(ci), f"{path}.map_drop_ci95")
        ci = (c.number(ci[0], f"{path}.map_drop_ci95[0]", lo=-100, hi=100),
              c.number(ci[1], f"{path}.map_drop_ci95[1]", lo=-100, hi=100))
        if None in ci or ci[0] > ci[1]:
            c.fail("low <= high", f"{list(ci)}", f"{path}.map_drop_ci95")
    return VsReference(
        reference=c.string(r["reference"], f"{path}.reference", nonempty=True),
        map_drop_points=c.number(r.get("map_drop_points"), f"{path}.map_drop_points", lo=-100, hi=100),
        map_drop_ci95=ci,
        map_pct_of_reference=c.number(r.get("map_pct_of_reference"), f"{path}.map_pct_of_reference", lo=0),
        iou_drop=c.number(r.get("iou_drop"), f"{path}.iou_drop", lo=-1, hi=1),
        agreement_mean_iou=c.number(r.get("agreement_mean_iou"), f"{path}.agreement_mean_iou", lo=0, hi=1),
        agreement_recall=c.number(r.get("agreement_recall"), f"{path}.agreement_recall", lo=0, hi=1),
    )
