"""Build run records (see :mod:`results.schema` for the format).

``bench run`` calls :func:`new_record` once per run with one :func:`variant_entry`
per variant; :func:`timing_entry` turns raw per-stage samples into the summaries
and the stored samples. The part builders return plain JSON-ready dicts;
:func:`new_record` validates the whole record once and returns the typed
:class:`~results.schema.Record`, so a bad field fails in the run, not later in
``bench compare``, and nothing downstream validates it again.

Stage statistics are :class:`harness.pipeline.timing.LatencyStats`' (the one definition):
linear interpolation between order statistics (numpy's default); ``std_ms`` is the sample
standard deviation (ddof=1), null for one sample.

The builders accept numpy scalars and arrays, tuples and paths anywhere and store
plain JSON (:func:`jsonable`); a NaN metric (undefined, e.g. precision with no
detections) is stored as null. Raw latency samples must be finite.

Example:
    >>> v = variant_entry(name="fp32", format="onnx", precision="fp32",
    ...                   timing=timing_entry({"inference": [4.0, 5.0, 6.0]}, fps=180.0))
    >>> v["timing"]["inference"]["p50_ms"]
    5.0
"""

from __future__ import annotations

import math
import os
import secrets
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from common.errors import InputError, expected
from common.hashing import file_sha256
from results.encoding import encode_floats
from results.schema import SAMPLES_ORDER, SCHEMA_VERSION, STAGES, Record, validate_record

__all__ = [
    "harness_info", "jsonable", "model_entry", "new_record", "new_run_id",
    "stage_summary", "timing_entry", "variant_entry",
]


def jsonable(obj: object) -> object:
    """Plain JSON types for a record: numpy scalars/arrays, tuples and paths converted, NaN -> None.

    Raises:
        InputError: a value has no JSON form (e.g. an object).

    Example:
        >>> import numpy as np
        >>> jsonable({"p": np.float32(0.5), "r": float("nan"), "ids": np.arange(2), 3: (1, 2)})
        {'p': 0.5, 'r': None, 'ids': [0, 1], '3': [1, 2]}
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return None if math.isnan(obj) else float(obj)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy scalar or array
        return jsonable(obj.tolist())
    raise InputError(expected("a JSON-able value (number, string, list, mapping)", type(obj).__name__,
                              "record builder"))


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id: UTC start time plus 6 random hex digits.

    Example:
        >>> new_run_id(datetime(2026, 11, 21, 23, 30, tzinfo=timezone.utc))[:17]
        '20261121T233000Z-'
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def harness_info(*, runner: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> dict:
    """The harness version and, in a git checkout, its commit (else null).

    Example:
        >>> sorted(harness_info())
        ['git_commit', 'version']
    """
    from common.version import __version__

    commit = None
    source = Path(__file__).resolve().parents[1]
    try:
        done = runner(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                      text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is not None and done.returncode == 0 and len(done.stdout.strip()) == 40:
        commit = done.stdout.strip()
    return {"version": __version__, "git_commit": commit}


def model_entry(path: str | os.PathLike, *, name: str | None = None, family: str | None = None,
                imgsz: int | None = None, classes: Sequence[str] | Mapping[int, str] | None = None,
                sha256: str | None = None) -> dict:
    """The ``model`` block: path, SHA-256 of the file (computed unless given), name, family, ...

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(suffix=".pt") as f:
        ...     model_entry(f.name, name="yolo11n")["sha256"][:8]
        'e3b0c442'
    """
    path = Path(path)
    return {
        "path": str(path),
        "sha256": sha256 or file_sha256(path),
        "name": name or path.stem,
        "family": family,
        "imgsz": imgsz,
        "classes": _class_names(classes),
    }


def _class_names(classes: Sequence[str] | Mapping[int, str] | None) -> list[str] | None:
    """Class names in index order; accepts Ultralytics' ``{0: "person", ...}`` too."""
    if classes is None:
        return None
    if isinstance(classes, Mapping):
        return [str(classes[k]) for k in sorted(classes)]
    return [str(c) for c in classes]


def stage_summary(samples_ms: Iterable[float]) -> dict | None:
    """Summarize one stage's latencies (ms): p50/p90/p95/p99/max/mean/std and n.

    The statistics are :class:`harness.pipeline.timing.LatencyStats`' (the one definition: numpy's
    linear percentiles, ``std`` with ddof=1 and None for one sample); this adds the record's checks.

    Returns:
        The stage object, or None for no samples (not measured).

    Raises:
        InputError: a sample is negative or not finite.

    Example:
        >>> stage_summary([1.0, 2.0, 3.0, 4.0])["p90_ms"]
        3.7
        >>> stage_summary([3.0])["std_ms"] is None
        True
    """
    import numpy as np

    from harness.pipeline.timing import LatencyStats

    values = np.asarray(list(samples_ms), dtype=np.float64)
    if values.size == 0:
        return None
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        bad = values[~np.isfinite(values) | (values < 0)][0]
        raise InputError(expected("finite latencies >= 0 ms", float(bad), "stage_summary"))
    return LatencyStats.from_samples(values).to_dict()


def timing_entry(stages_ms: Mapping[str, Iterable[float]], *, fps: float | None = None,
                 pipelined_fps: float | None = None, warmup_iterations: int | None = None,
                 timed_seconds: float | None = None, keep_samples: bool = True,
                 batch: Mapping | None = None) -> dict:
    """The ``timing`` block from raw per-stage samples in milliseconds.

    Args:
        stages_ms: ``{"preprocess": [...], "inference": [...], "postprocess": [...],
            "end_to_end": [...]}``; missing stages were not measured.
        fps: frames per second of the sequential pipeline as measured (not derived here:
            only the run loop knows its wall time).
        pipelined_fps: throughput with stages overlapped, when measured.
        warmup_iterations: iterations run before timing started.
        timed_seconds: wall time of the timed part.
        keep_samples: store the raw inference (and end-to-end) samples, which
            ``bench compare`` needs for its significance test. They are stored in the
            order given, which must be the order they were measured in (``bench compare``
            cuts them into time-contiguous blocks); the timing block says so with
            ``extra.samples_order = "call"``.
        batch: the batch-N pass as the device worker returns it (``bench run --batch N``): stored as
            ``timing.batch``, its ``samples_ms`` (the calls, in order) encoded like the stages' samples
            and, like them, only with ``keep_samples``.

    Example:
        >>> sorted(timing_entry({"inference": [2.0] * 100})["inference_samples_ms"])
        ['data', 'encoding', 'n']
    """
    unknown = set(stages_ms) - set(STAGES)
    if unknown:
        raise InputError(expected(f"stages among {STAGES}", sorted(unknown), "timing_entry"))
    out: dict = {}
    materialized = {k: [float(x) for x in v] for k, v in stages_ms.items()}
    for stage in STAGES:
        if stage in materialized:
            summary = stage_summary(materialized[stage])
            if summary is not None:
                out[stage] = summary
    out.update(fps=fps, pipelined_fps=pipelined_fps, warmup_iterations=warmup_iterations,
               timed_seconds=timed_seconds)
    if keep_samples:
        for stage in ("inference", "end_to_end"):
            if materialized.get(stage):
                out[f"{stage}_samples_ms"] = encode_floats(materialized[stage])
        if "inference_samples_ms" in out or "end_to_end_samples_ms" in out:
            out["extra"] = {"samples_order": SAMPLES_ORDER}
    if batch is not None:
        samples = batch.get("samples_ms")
        out["batch"] = {k: v for k, v in batch.items() if k != "samples_ms"}
        if keep_samples and samples is not None:
            out["batch"]["samples_ms"] = encode_floats([float(x) for x in samples])
    return out


def variant_entry(*, name: str, format: str, precision: str, status: str = "ok",
                  reason: str | None = None, error_tail: str | None = None,
                  artifact: Mapping | None = None, timing: Mapping | None = None,
                  accuracy: Mapping | None = None, vs_reference: Mapping | None = None,
                  localization: Mapping | None = None, telemetry: Mapping | None = None,
                  per_frame_iou: Iterable[float] | None = None, extra: Mapping | None = None,
                  source_model: Mapping | None = None, vs_models: Mapping | None = None) -> dict:
    """One entry of ``variants``. Leave a field None when it was not measured.

    ``per_frame_iou`` is encoded (list or compressed); ``error_tail`` is cut to its
    last 2000 characters. ``source_model`` and ``vs_models`` (schema 2) are written only
    when given: a row built from another model than the run's (a distilled student, its
    teacher) and a student's comparisons with the plain model's and the teacher's FP32.

    Example:
        >>> variant_entry(name="trt-fp16", format="engine", precision="fp16", status="skipped",
        ...               reason="TensorRT is not installed")["status"]
        'skipped'
    """
    entry = jsonable({
        "name": name, "format": format, "precision": precision, "status": status,
        "reason": reason, "error_tail": error_tail[-2000:] if error_tail else error_tail,
        "artifact": artifact, "timing": timing, "accuracy": accuracy, "vs_reference": vs_reference,
        "localization": localization, "telemetry": telemetry,
    })
    entry["per_frame_iou"] = (encode_floats(per_frame_iou, allow_missing=True)
                              if per_frame_iou is not None else None)
    if source_model is not None:
        entry["source_model"] = jsonable(source_model)
    if vs_models is not None:
        entry["vs_models"] = jsonable(vs_models)
    if extra:
        entry["extra"] = jsonable(extra)
    return entry


def new_record(*, release: str, command: Sequence[str], device: str, hardware: Mapping,
               runtime_versions: Mapping[str, str | None], model: Mapping, data: Mapping,
               variants: Sequence[Mapping], settings: Mapping | None = None,
               harness: Mapping | None = None, run_id: str | None = None,
               now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
               extra: Mapping | None = None) -> Record:
    """A complete record (current schema version), validated once and returned typed.

    The :class:`~results.schema.Record` goes as is to :meth:`results.archive.Archive.save` (which
    does not validate it again) and to the renderer; ``record.to_dict()`` is its JSON form.

    Args:
        release: the release this run belongs to (e.g. ``"v1.2"``).
        command: the command line of the run (``sys.argv``-like).
        device: the device profile name (``"cpu"``, ``"jetson"``).
        hardware: what was detected (CPU model, cores, RAM, GPU, JetPack/L4T, power mode...).
        runtime_versions: ``{"onnxruntime": "1.22.0", "tensorrt": None, ...}``.
        model: the model block, see :func:`model_entry`.
        data: ``{"kind": "images"|"video", "source": ..., "count": ..., "with_ground_truth": ...}``.
        variants: entries from :func:`variant_entry`.
        settings: the run settings (conf, iou, max_det, operating_conf, threads, batch, ...).
        harness: ``{"version", "git_commit"}``; detected with :func:`harness_info` if None.
        run_id: defaults to :func:`new_run_id` at ``now()``.
        now: the clock (injectable for tests).

    Raises:
        InputError: the assembled record does not validate (names the JSON path).
    """
    created = now().astimezone(timezone.utc)
    record = jsonable({
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id or new_run_id(created),
        "created_utc": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "release": release,
        "harness": harness if harness is not None else harness_info(),
        "command": [str(a) for a in command],
        "device": {"profile": device, "hardware": hardware},
        "runtime_versions": runtime_versions,
        "model": model,
        "data": data,
        "settings": settings or {},
        "variants": list(variants),
    })
    if extra:
        record["extra"] = jsonable(extra)
    return validate_record(record, "new record")
