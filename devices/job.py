"""The typed, versioned seam between the run loop and a device worker: :class:`Job` in, :class:`WorkerResult` out.

A :class:`Job` holds what a DEVICE needs to measure one variant and nothing that only exists on the
host: the variant's name and precision, the runtime NAME and providers the parent chose, the device
profile NAME the parent resolved (the worker loads that profile by name and never detects the device
again), a reference to the artifact (file name, SHA-256 and format; the transport resolves the path:
locally the build output, remotely the file shipped beside the job), the model's input size and class
count, the NMS settings, threads, timing options, and the frames as names relative to a frames root.

A :class:`WorkerResult` is what the worker sends back: the ``timing`` block of the record, telemetry,
the runtime's self-description, package versions and the frame count. Per-frame detections travel
beside it in ``detections.npz`` (arrays ``frame``, ``boxes``, ``scores``, ``classes``).

Both are JSON files with a ``version`` field. Versions:

* 1: the first typed version (replaced the untyped ``job.json`` dict, whose ``job_version`` was never read).
  Added within version 1 (optional, with defaults, so older jobs load unchanged): ``batch`` and
  ``batch_artifact`` (the throughput pass at batch N); the result's ``timing.batch`` block.
* 2: a job with an ``engine`` block (:class:`EngineBuild`): the device builds a TensorRT engine from the
  shipped ONNX (``artifact``) before measuring it. Not additive (a reader that ignored the block would
  run the ONNX as an engine), so such a job is written as version 2, which an older reader refuses in
  one line; every job without it is still written as version 1, byte for byte as before. Version 2
  demands the block and version 1 refuses it.

Reading an unknown version is one clear line (:class:`common.errors.InputError`). Change fields only
additively within a version (new fields with defaults); anything else bumps the version.

This module is importable on Python 3.8 with the standard library and :mod:`common.errors` only.

Example:
    >>> job = Job(variant="fp32", precision="fp32", runtime="onnxruntime", device="cpu",
    ...           artifact=ArtifactRef("yolo11n-fp32.onnx", "ab" * 32, "onnx"), imgsz=640, nc=5,
    ...           frames=FrameSet("images", 2, ("a.jpg", "b.jpg")))
    >>> Job.from_json(job.to_json()) == job
    True
    >>> Job.from_json('{"version": 7}')
    Traceback (most recent call last):
    ...
    common.errors.InputError: job: expected job version 1 or 2 (this bench reads only those; run the same bench version on host and device), got version 7
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Dict, Mapping, Optional, Tuple

from common.errors import InputError, expected

__all__ = ["ArtifactRef", "ENGINE_JOB_VERSION", "EngineBuild", "FrameSet", "JOB_VERSION", "JOB_VERSIONS", "Job", "MAX_BATCH",
           "NmsSettings", "RESULT_VERSION", "TimingOptions", "TrtSettings", "WorkerResult", "DETECTIONS_FILE", "FRAME_KINDS"]

JOB_VERSION = 1  # a job without an engine block (the version every such job is written with)
ENGINE_JOB_VERSION = 2  # a job with an engine block
JOB_VERSIONS = (JOB_VERSION, ENGINE_JOB_VERSION)  # what this bench reads
RESULT_VERSION = 1
MAX_BATCH = 256  # --batch N: images per call of the throughput pass, 1..MAX_BATCH
DETECTIONS_FILE = "detections.npz"  # beside the result: arrays frame, boxes (xyxy pixels), scores, classes
FRAME_KINDS = ("images", "video")


# ------------------------------------------------------------------------------------------- parts

@dataclass(frozen=True)
class ArtifactRef:
    """The artifact a job runs, by name and content; the path is the transport's business.

    Attributes:
        name: the file name (no folder), e.g. ``"yolo11n-int8.onnx"``.
        sha256: hex SHA-256 of the file (the worker may check it).
        format: ``"onnx"``, ``"engine"`` (TensorRT) or another format a runtime opens.
    """

    name: str
    sha256: str
    format: str


@dataclass(frozen=True)
class NmsSettings:
    """Decode + NMS settings of the pipeline (the record's ``settings``)."""

    conf: float = 0.001
    iou: float = 0.7
    max_det: int = 300


@dataclass(frozen=True)
class TimingOptions:
    """How long to time: at least ``min_iters`` iterations and ``min_seconds`` after at most
    ``warmup_max_s`` of warm-up, cycling through ``frames`` distinct frames decoded up front."""

    min_iters: int = 100
    min_seconds: float = 3.0
    warmup_max_s: float = 10.0
    frames: int = 32


@dataclass(frozen=True)
class FrameSet:
    """The frames to score, relative to a frames root the transport provides.

    Attributes:
        kind: ``"images"`` (``names`` are image files, in scoring order) or ``"video"`` (``names``
            holds the one video file; the first ``count`` frames are scored).
        count: how many frames are scored.
        names: POSIX-style paths relative to the frames root (never absolute, never ``..``).
    """

    kind: str
    count: int
    names: Tuple[str, ...] = ()


@dataclass(frozen=True)
class TrtSettings:
    """Builder settings for one engine (validated by :func:`exporters.tensorrt_build.trt_settings`, or read from a job).

    Attributes:
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"``.
        int8_mode: ``"qdq"`` (explicit, from the QDQ ONNX) or ``"calibrator"``; ``None`` unless int8.
        workspace_mib: builder workspace memory-pool limit.
        dla_core: DLA core index (Jetson), ``None`` for the GPU.
        gpu_fallback: let layers the DLA cannot run fall back to the GPU.
        sparse_weights: allow 2:4 structured-sparse kernels.
    """

    precision: str
    int8_mode: Optional[str] = None
    workspace_mib: int = 1024
    dla_core: Optional[int] = None
    gpu_fallback: bool = True
    sparse_weights: bool = False

    def to_dict(self) -> dict:
        """JSON-ready (goes into the cache key and the manifest)."""
        return asdict(self)

    @property
    def tag(self) -> str:
        """File-name part for the non-default options, e.g. ``"-dla0-sparse"``."""
        parts = []
        if self.int8_mode == "calibrator":
            parts.append("calib")
        if self.dla_core is not None:
            parts.append(f"dla{self.dla_core}")
        if self.sparse_weights:
            parts.append("sparse")
        return "".join(f"-{p}" for p in parts)


@dataclass(frozen=True)
class EngineBuild(TrtSettings):
    """Build a TensorRT engine on the device from the shipped ONNX before measuring: the builder's settings
    (:class:`TrtSettings`; ``int8_mode`` is ``"qdq"`` for int8: the device has no calibration images) and the source.

    Attributes:
        source: the ONNX the engine is built from (FP32, or QDQ for int8); None until the host built it (then
            it is the job's ``artifact`` as shipped; the device points ``artifact`` at the engine it built).
    """

    source: Optional[ArtifactRef] = None

    def settings(self) -> TrtSettings:
        """The builder settings alone (what an engine's cache key holds)."""
        return TrtSettings(**{f.name: getattr(self, f.name) for f in fields(TrtSettings)})


# ---------------------------------------------------------------------------------------------- Job

@dataclass(frozen=True)
class Job:
    """One variant to measure on one device (see the module docstring for what is in and out).

    Attributes:
        variant: the row's name, e.g. ``"int8"``, ``"student"`` or ``"teacher"``.
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"``.
        runtime: the runtime NAME the parent chose (``"onnxruntime"``, ``"tensorrt"``, ``"openvino"``).
        device: the device profile NAME the parent resolved; the worker loads it by name.
        artifact: the artifact to open; None only until the local child has built it.
        imgsz: network input side (square).
        nc: the model's class count (fixes the output layout); None when unknown.
        frames: the frames to time and score.
        nms: decode + NMS settings.
        timing: timing options.
        threads: inference threads (None: the runtime's default).
        providers: ONNX Runtime execution providers in priority order, as resolved by the parent
            (empty: the profile's, or not ONNX Runtime).
        batch: images per call of the throughput pass (1: single stream only, as before this field).
        batch_artifact: the artifact with a static batch of ``batch`` for that pass, beside ``artifact``
            (same folder); None with ``batch`` 1, or until the local child has built it.
        engine: build a TensorRT engine from ``artifact`` (an ONNX) on the device first (:class:`EngineBuild`);
            None for every other job.
        version: the base file format version (:data:`JOB_VERSION`; written as :data:`ENGINE_JOB_VERSION`
            when ``engine`` is set).
    """

    variant: str
    precision: str
    runtime: str
    device: str
    artifact: Optional[ArtifactRef]
    imgsz: int
    nc: Optional[int]
    frames: FrameSet
    nms: NmsSettings = field(default_factory=NmsSettings)
    timing: TimingOptions = field(default_factory=TimingOptions)
    threads: Optional[int] = None
    providers: Tuple[str, ...] = ()
    batch: int = 1
    batch_artifact: Optional[ArtifactRef] = None
    engine: Optional[EngineBuild] = None
    version: int = JOB_VERSION

    def with_artifact(self, artifact: ArtifactRef) -> "Job":
        """This job with its built artifact filled in."""
        return replace(self, artifact=artifact)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready form (tuples become lists); ``batch``/``batch_artifact`` only when a batch pass is asked
        for, so a single-stream job is written exactly as before those fields existed."""
        out = _plain(asdict(self))
        if self.batch == 1 and self.batch_artifact is None:
            del out["batch"], out["batch_artifact"]
        if self.engine is None:
            del out["engine"]
        else:
            out["version"] = ENGINE_JOB_VERSION
        return out

    def to_json(self) -> str:
        """The job as one JSON document."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, where: str = "job") -> "Job":
        """Validate a decoded job; unknown versions and wrong types are one-line :class:`InputError`."""
        r = _Reader(data, where)
        r.version(JOB_VERSIONS, "job")
        engine = _engine_build(data, where)
        artifact = _artifact_ref(data.get("artifact"), where + ".artifact")
        batch_artifact = _artifact_ref(data.get("batch_artifact"), where + ".batch_artifact")
        batch = r.integer("batch", minimum=1, default=1)
        if batch > MAX_BATCH:
            raise InputError(expected(f"a batch in 1..{MAX_BATCH}", batch, where + ".batch"))
        f = _Reader(data.get("frames"), where + ".frames")
        kind = f.text("kind")
        if kind not in FRAME_KINDS:
            raise InputError(expected(f"one of {', '.join(FRAME_KINDS)}", repr(kind), where + ".frames.kind"))
        names = f.texts("names")
        for name in names:
            if name.startswith("/") or ".." in name.split("/"):
                raise InputError(expected("a name relative to the frames root", repr(name), where + ".frames.names"))
        frames = FrameSet(kind, f.integer("count", minimum=0), names)
        n = _Reader(data.get("nms", {}), where + ".nms")
        t = _Reader(data.get("timing", {}), where + ".timing")
        return cls(
            variant=r.text("variant"), precision=r.text("precision"), runtime=r.text("runtime"), device=r.text("device"),
            artifact=artifact, imgsz=r.integer("imgsz", minimum=1), nc=r.integer("nc", minimum=1, none_ok=True), frames=frames,
            nms=NmsSettings(conf=n.number("conf", NmsSettings.conf), iou=n.number("iou", NmsSettings.iou),
                            max_det=n.integer("max_det", minimum=1, default=NmsSettings.max_det)),
            timing=TimingOptions(min_iters=t.integer("min_iters", minimum=1, default=TimingOptions.min_iters),
                                 min_seconds=t.number("min_seconds", TimingOptions.min_seconds),
                                 warmup_max_s=t.number("warmup_max_s", TimingOptions.warmup_max_s),
                                 frames=t.integer("frames", minimum=1, default=TimingOptions.frames)),
            threads=r.integer("threads", minimum=1, none_ok=True), providers=r.texts("providers"),
            batch=batch, batch_artifact=batch_artifact, engine=engine)

    @classmethod
    def from_json(cls, text: str, where: str = "job") -> "Job":
        """Parse and validate a job written by :meth:`to_json`."""
        return cls.from_dict(_loads(text, where), where)


# ------------------------------------------------------------------------------------- WorkerResult

@dataclass(frozen=True)
class WorkerResult:
    """What a device worker measured for one :class:`Job` (detections are in :data:`DETECTIONS_FILE`).

    Attributes:
        variant: the job's variant (so a result cannot be filed under another row).
        timing: what the record's ``timing`` block is made from on the host
            (:func:`results.record.timing_entry`): ``stages_ms`` (``{"end_to_end": [...], "inference":
            [...]}``, raw samples in call order), ``fps``, ``pipelined_fps``, ``warmup_iterations``,
            ``timed_seconds``, and the ``preprocess``/``postprocess`` summaries.
        telemetry: the telemetry summary of the timed window (power, clocks, temperatures, ...).
        runtime: the session's self-description (runtime, version, providers, threads, precision).
        versions: package versions on the device (``{"onnxruntime": "1.20.1", ...}``).
        n_frames: frames scored (rows of the detections file are ``frame`` in ``0..n_frames-1``).
        version: the file format version (:data:`RESULT_VERSION`).
    """

    variant: str
    timing: Dict[str, Any]
    telemetry: Dict[str, Any]
    runtime: Dict[str, Any]
    versions: Dict[str, str]
    n_frames: int
    version: int = RESULT_VERSION

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready form."""
        return _plain(asdict(self))

    def to_json(self) -> str:
        """The result as one JSON document."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, where: str = "worker result") -> "WorkerResult":
        """Validate a decoded result; unknown versions and wrong types are one-line :class:`InputError`."""
        r = _Reader(data, where)
        r.version((RESULT_VERSION,), "worker result")
        versions = r.mapping("versions")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in versions.items()):
            raise InputError(expected("package versions as strings", versions, where + ".versions"))
        timing = r.mapping("timing")
        stages = _Reader(timing, where + ".timing").mapping("stages_ms")
        for stage, samples in stages.items():
            if not isinstance(samples, list) or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in samples):
                raise InputError(expected("a list of finite milliseconds", type(samples).__name__,
                                          f"{where}.timing.stages_ms.{stage}"))
        return cls(variant=r.text("variant"), timing=timing, telemetry=r.mapping("telemetry"),
                   runtime=r.mapping("runtime"), versions=dict(versions), n_frames=r.integer("n_frames", minimum=0))

    @classmethod
    def from_json(cls, text: str, where: str = "worker result") -> "WorkerResult":
        """Parse and validate a result written by :meth:`to_json`."""
        return cls.from_dict(_loads(text, where), where)


# ---------------------------------------------------------------------------------------- helpers

def _artifact_ref(art: Any, where: str) -> Optional[ArtifactRef]:
    if art is None:
        return None
    a = _Reader(art, where)
    return ArtifactRef(a.text("name"), a.text("sha256"), a.text("format"))


def _engine_build(data: Mapping, where: str) -> Optional[EngineBuild]:
    """The ``engine`` block of a job whose version was checked: demanded by version 2, refused by version 1."""
    block = data.get("engine")
    if data.get("version") == JOB_VERSION:
        if block is not None:
            raise InputError(expected(f"job version {ENGINE_JOB_VERSION} for a job with an 'engine' block",
                                      f"version {JOB_VERSION}", where))
        return None
    if block is None:
        raise InputError(expected(f"job version {JOB_VERSION}, or version {ENGINE_JOB_VERSION} with an 'engine' block",
                                  f"version {ENGINE_JOB_VERSION} without one", where))
    e, at = _Reader(block, where + ".engine"), where + ".engine"
    precision = e.text("precision")
    if precision not in ("fp32", "fp16", "int8"):
        raise InputError(expected("fp32, fp16 or int8", repr(precision), at + ".precision"))
    mode = block.get("int8_mode")
    if mode != ("qdq" if precision == "int8" else None):
        raise InputError(expected("'qdq' for int8 (the device builds from the QDQ ONNX), none otherwise", repr(mode),
                                  at + ".int8_mode"))
    return EngineBuild(precision=precision, int8_mode=mode, workspace_mib=e.integer("workspace_mib", minimum=16, default=1024),
                       dla_core=e.integer("dla_core", minimum=0, none_ok=True), gpu_fallback=e.flag("gpu_fallback", True),
                       sparse_weights=e.flag("sparse_weights", False), source=_artifact_ref(block.get("source"), at + ".source"))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(expected("a JSON document", f"{exc.__class__.__name__}: {exc}", where)) from None


class _Reader:
    """Typed field access on one decoded JSON object, with the one-line error template."""

    _MISSING = object()

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(expected("a JSON object", type(data).__name__, where))
        self.data, self.where = data, where

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is self._MISSING:
            raise InputError(expected(f"a field '{key}'", "none", self.where))
        return default

    def version(self, wanted: Tuple[int, ...], what: str) -> None:
        got = self.data.get("version")
        if got not in wanted or isinstance(got, bool):
            versions, which = " or ".join(map(str, wanted)), "those" if len(wanted) > 1 else "that one"
            raise InputError(expected(f"{what} version {versions} (this bench reads only {which}; run the same bench "
                                      "version on host and device)", f"version {got}", self.where))

    def text(self, key: str) -> str:
        value = self._get(key, self._MISSING)
        if not isinstance(value, str) or not value:
            raise InputError(expected("a non-empty string", repr(value), f"{self.where}.{key}"))
        return value

    def texts(self, key: str) -> Tuple[str, ...]:
        value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InputError(expected("a list of non-empty strings", repr(value), f"{self.where}.{key}"))
        return tuple(value)

    def integer(self, key: str, *, minimum: int, none_ok: bool = False, default: Any = _MISSING) -> Any:
        value = self._get(key, None if none_ok and default is self._MISSING else default)
        if value is None and none_ok:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise InputError(expected(f"an integer >= {minimum}", repr(value), f"{self.where}.{key}"))
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise InputError(expected("true or false", repr(value), f"{self.where}.{key}"))
        return value

    def number(self, key: str, default: float) -> float:
        value = self._get(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise InputError(expected("a finite number >= 0", repr(value), f"{self.where}.{key}"))
        return float(value)

    def mapping(self, key: str) -> Dict[str, Any]:
        value = self._get(key, self._MISSING)
        if not isinstance(value, dict):
            raise InputError(expected("a JSON object", type(value).__name__, f"{self.where}.{key}"))
        return value
