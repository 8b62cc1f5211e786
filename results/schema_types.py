"""The run record's typed, immutable form: the frozen dataclasses :func:`results.schema.validate_record` builds.

The format they hold (every key, its unit and what absent means) is documented in :mod:`results.schema`,
which re-exports every public name here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType

__all__ = [
    "SAMPLES_ORDER", "RELEASE_RE", "RUN_ID_RE", "STATUSES", "STAGES", "Accuracy", "BatchTiming", "DataInfo",
    "DeviceInfo", "HarnessInfo", "ModelInfo", "Record", "StageStats", "RowSource", "Timing", "Variant", "VsModel",
    "VsReference",
]

SAMPLES_ORDER = "call"
"""``timing.extra.samples_order`` of records whose raw samples are in the order they were taken."""

VS_MODEL_ROLES = ("plain", "teacher", "control")
SOURCE_ROLES = ("student", "teacher", "control")

RELEASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
NAME_RE = RELEASE_RE
RUN_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6,32}$")
STATUSES = ("ok", "skipped", "failed")
STAGES = ("preprocess", "inference", "postprocess", "end_to_end")
STAGE_KEYS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms", "std_ms")
_TIMED_STAGES = ("inference", "end_to_end")  # compare and report divide by these: a 0 is refused
ACCURACY_FRACTIONS = ("map50_95", "map50", "precision", "recall", "f1", "avg_iou_per_frame", "mean_tp_iou")


def _freeze(obj):
    if isinstance(obj, dict):
        return MappingProxyType({k: _freeze(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return tuple(_freeze(v) for v in obj)
    return obj


def _thaw(obj):
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [_thaw(v) for v in obj]
    return obj


@dataclass(frozen=True)
class StageStats:
    """Latency summary of one pipeline stage, in milliseconds (None = not measured)."""

    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class BatchTiming:
    """The throughput pass at batch N: N frames per call (None = not measured)."""

    batch: int
    images_per_s: float | None = None
    batch_p50_ms: float | None = None
    batch_p99_ms: float | None = None
    batch_mean_ms: float | None = None
    n: int | None = None
    timed_seconds: float | None = None
    warmup_iterations: int | None = None
    artifact: str | None = None
    samples_ms: tuple[float, ...] | None = None  # the timed calls' ms in call order (absent in older records)
    cpu_wait_share: float | None = None  # share of the pass's ready time its threads waited for a CPU


@dataclass(frozen=True)
class Timing:
    """Per-stage latency summaries, throughput, and the raw samples when stored."""

    stages: Mapping[str, StageStats]
    fps: float | None = None
    pipelined_fps: float | None = None
    warmup_iterations: int | None = None
    timed_seconds: float | None = None
    inference_samples_ms: tuple[float, ...] | None = None
    end_to_end_samples_ms: tuple[float, ...] | None = None
    samples_order: str | None = None
    """``"call"`` when the record says the samples are in measurement order; None when it does not say."""
    batch: BatchTiming | None = None
    """The throughput pass at batch N (``bench run --batch N``); None when not measured."""

    def stage(self, name: str) -> StageStats | None:
        """The summary of stage ``name`` (``"inference"``, ...) or None if not measured."""
        return self.stages.get(name)


@dataclass(frozen=True)
class Accuracy:
    """Accuracy against ground truth (fractions in [0, 1])."""

    map50_95: float | None = None
    map50: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    avg_iou_per_frame: float | None = None
    mean_tp_iou: float | None = None
    coco_stats: tuple[float, ...] | None = None
    per_class_ap: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))
    yolo_val: Mapping | None = None  # optional (H8): confusion matrix, P/R/F1 curves, per-class table


@dataclass(frozen=True)
class VsReference:
    """How a variant differs from the reference variant (usually fp32) of the same run."""

    reference: str
    map_drop_points: float | None = None
    map_drop_ci95: tuple[float, float] | None = None
    map_pct_of_reference: float | None = None
    iou_drop: float | None = None
    agreement_mean_iou: float | None = None
    agreement_recall: float | None = None


@dataclass(frozen=True)
class RowSource:
    """(v2) The model a row was built from when it is not the run's model (a student, a teacher)."""

    role: str
    name: str
    sha256: str
    path: str | None = None
    arch: str | None = None
    family: str | None = None


@dataclass(frozen=True)
class VsModel:
    """(v2) A row measured against another model's FP32 row of the same run (a student vs its teacher)."""

    reference: str | None
    label: str
    model: Mapping | None = None
    map_drop_points: float | None = None
    map_drop_ci95: tuple[float, float] | None = None
    map_pct_of_reference: float | None = None
    fps_ratio: float | None = None
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Variant:
    """One optimized form of the model and what was measured for it."""

    name: str
    format: str
    precision: str
    status: str
    reason: str | None = None
    error_tail: str | None = None
    artifact: Mapping | None = None
    timing: Timing | None = None
    accuracy: Accuracy | None = None
    vs_reference: VsReference | None = None
    localization: Mapping | None = None
    telemetry: Mapping | None = None
    per_frame_iou: tuple[float | None, ...] | None = None
    source_model: RowSource | None = None
    vs_models: Mapping[str, VsModel] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ok(self) -> bool:
        """True when the variant ran (status ``"ok"``)."""
        return self.status == "ok"


@dataclass(frozen=True)
class HarnessInfo:
    version: str
    git_commit: str | None = None


@dataclass(frozen=True)
class DeviceInfo:
    profile: str
    hardware: Mapping


@dataclass(frozen=True)
class ModelInfo:
    path: str
    sha256: str
    name: str
    family: str | None = None
    imgsz: int | None = None
    classes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DataInfo:
    kind: str
    source: str
    count: int
    with_ground_truth: bool


@dataclass(frozen=True)
class Record:
    """A validated run record (immutable). Build one with :func:`results.schema.validate_record`."""

    schema_version: int
    run_id: str
    created_utc: str
    release: str
    harness: HarnessInfo
    command: tuple[str, ...]
    device: DeviceInfo
    runtime_versions: Mapping[str, str | None]
    model: ModelInfo
    data: DataInfo
    settings: Mapping
    variants: tuple[Variant, ...]
    raw: Mapping = field(repr=False, compare=False)

    @property
    def created(self) -> datetime:
        """``created_utc`` as an aware datetime."""
        return _parse_utc(self.created_utc)

    def variant(self, name: str) -> Variant | None:
        """The variant called ``name``, or None."""
        for v in self.variants:
            if v.name == name:
                return v
        return None

    def to_dict(self) -> dict:
        """The record as JSON-ready plain dicts and lists (a fresh copy)."""
        return _thaw(self.raw)


def _parse_utc(text: str) -> datetime:
    # Python 3.10's fromisoformat does not accept a trailing "Z"
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if value.tzinfo is None or value.utcoffset().total_seconds() != 0:
        raise ValueError("not UTC")
    return value.astimezone(timezone.utc)
