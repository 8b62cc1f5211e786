"""TensorRT engine builder (TensorRT 8.5+ and 10.x Python API), run on the target device, and its engine cache.

Engines are specific to the GPU and the TensorRT version that built them, so they are built where
they run: by ``bench export``/``bench run --format trt`` on a local GPU (:mod:`exporters.kinds.trt`
drives this module), and by the device agent of a fleet device from the ONNX the host shipped
(:func:`engine_job`). Precisions: ``fp32``/``fp16`` from the FP32 ONNX (``BuilderFlag.FP16`` for
fp16); ``int8`` from the QDQ ONNX quantized for TensorRT (explicit quantization), or, locally only,
from the FP32 ONNX with TensorRT's entropy calibrator (:func:`exporters.tensorrt_build.make_calibrator`).

Options: workspace limit, a persistent timing cache (faster rebuilds), DLA core with GPU fallback
(Jetson), and the 2:4 structured-sparsity flag (Ampere and newer).

On a fleet device, :func:`cached_engine` keeps engines in ``<cache root>/tensorrt-engines``
(:func:`common.paths.runtime_cache_dir`), keyed by the ONNX's SHA-256, the settings, the batch, the
device tag and the TensorRT version; an engine is written atomically with a JSON sidecar (its build
record), and only a pair whose sidecar names the same key is reused.

Python 3.8 compatible; imports only :mod:`common` and :mod:`devices` (tensorrt lazily).

Example:
    >>> builder_flag_names(TrtSettings("int8", "qdq"))
    ['FP16', 'INT8']
    >>> TrtSettings("fp16", dla_core=0, sparse_weights=True).tag
    '-dla0-sparse'
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from common.errors import BenchError, InputError, expected, require
from devices.job import TrtSettings

__all__ = ["ENGINE_CACHE", "INT8_MODES", "TRT_PIP", "CachedEngine", "TrtSettings", "build_engine",
           "builder_flag_names", "cached_engine", "device_tag", "engine_job", "import_tensorrt"]

TRT_PIP = "pip install 'edge-bench[tensorrt]' (on Jetson: sudo apt install python3-libnvinfer)"
INT8_MODES = ("qdq", "calibrator")
ENGINE_CACHE = "tensorrt-engines"  # the device's engine cache: common.paths.runtime_cache_dir(ENGINE_CACHE)


def builder_flag_names(settings: TrtSettings) -> List[str]:
    """Names of the ``trt.BuilderFlag`` members the settings turn on (sorted).

    INT8 engines also get FP16 so layers left in float (the head decode) run in FP16, not FP32.
    """
    flags = set()
    if settings.precision in ("fp16", "int8"):
        flags.add("FP16")
    if settings.precision == "int8":
        flags.add("INT8")
    if settings.dla_core is not None and settings.gpu_fallback:
        flags.add("GPU_FALLBACK")
    if settings.sparse_weights:
        flags.add("SPARSE_WEIGHTS")
    return sorted(flags)


def import_tensorrt():
    """Import ``tensorrt`` or raise :class:`common.errors.MissingDependency` naming what to install."""
    return require("tensorrt", pip=TRT_PIP)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def device_tag(
    *,
    read_text: Callable[[Path], str] = lambda p: Path(p).read_text(errors="replace"),
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> Tuple[str, Optional[Tuple[int, int]]]:
    """Identify the GPU an engine is built for: ``("jetson-agx-orin-...", (8, 7))`` or ``("nvidia-...-sm86", (8, 6))``.

    Jetson boards are read from ``/proc/device-tree/model``; discrete GPUs from ``nvidia-smi``.
    Both probes are injectable for tests.

    Returns:
        ``(tag, compute_capability or None)``.

    Raises:
        BenchError: no NVIDIA GPU was found (engines must be built on the target).
    """
    try:
        model = read_text(Path("/proc/device-tree/model")).strip("\x00 \n")
    except OSError:
        model = ""
    if "jetson" in model.lower() or "nvidia" in model.lower():
        cc = None
        low = model.lower()
        if "orin" in low:
            cc = (8, 7)
        elif "xavier" in low:
            cc = (7, 2)
        elif "nano" in low or "tx1" in low:
            cc = (5, 3)
        return _slug(model.replace("NVIDIA", "")), cc
    try:
        done = run(
            ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        done = None
    line = done.stdout.strip().splitlines()[0] if done is not None and done.returncode == 0 and done.stdout.strip() else ""
    if not line:
        raise BenchError("no NVIDIA GPU found (no Jetson device tree, nvidia-smi failed): TensorRT engines are built on the target device")
    name, _, cap = (part.strip() for part in line.partition(","))
    cc = None
    match = re.match(r"(\d+)\.(\d+)", cap)
    if match:
        cc = (int(match.group(1)), int(match.group(2)))
    return _slug(name) + (f"-sm{cc[0]}{cc[1]}" if cc else ""), cc


def _network_flags(trt) -> int:
    major = int(str(trt.__version__).split(".")[0])
    if major >= 10:
        return 0  # networks are always explicit-batch; the flag is deprecated
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def _make_logger(trt):
    """A TensorRT logger that keeps error messages, so a failed build reports its cause in one line."""

    class Logger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors = []  # type: List[str]

        def log(self, severity, msg):
            if int(severity) <= int(trt.ILogger.Severity.ERROR):
                self.errors.append(str(msg))

    return Logger()


def build_engine(
    onnx_path: Path,
    out: Path,
    settings: TrtSettings,
    *,
    timing_cache: Optional[Path] = None,
    calibrator=None,
    compute_capability: Optional[Tuple[int, int]] = None,
    trt=None,
    batch: Optional[int] = None,
) -> dict:
    """Build and serialize a TensorRT engine from an ONNX file.

    Args:
        onnx_path: the FP32 ONNX (or the QDQ ONNX for explicit INT8).
        out: where to write the serialized engine.
        settings: validated :class:`TrtSettings`.
        timing_cache: a file to load and update (speeds up later builds on the same device).
        calibrator: from :func:`exporters.tensorrt_build.make_calibrator`, only for ``int8_mode="calibrator"``.
        compute_capability: of the target GPU, to refuse 2:4 sparsity before Ampere.
        trt: the ``tensorrt`` module (tests inject a fake).
        batch: images per inference. A network with a static batch (bench's exports: ``Nx3xSxS``) runs
            at that batch whatever this says; one with a dynamic batch gets an optimization profile
            fixed at ``batch`` (default 1). INT8 calibration feeds that many images per call.

    Returns:
        The ``tensorrt`` section of the manifest.

    Raises:
        MissingDependency: tensorrt is not importable.
        InputError: DLA requested on a device without that core; sparsity before Ampere.
        BenchError: the parser or the builder failed (with TensorRT's own error text).
    """
    from common.atomic import atomic_path

    trt = trt or import_tensorrt()
    if settings.sparse_weights and compute_capability is not None and compute_capability < (8, 0):
        raise InputError(expected("an Ampere or newer GPU (sm80+) for 2:4 sparsity",
                                  f"sm{compute_capability[0]}{compute_capability[1]}", "--sparse"))
    logger = _make_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)) or "unknown parser error"
        raise BenchError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    batch = _batch_profile(trt, builder, network, config, batch)
    if calibrator is not None and hasattr(calibrator, "use_batch"):
        calibrator.use_batch(batch)
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_mib << 20)
    for name in builder_flag_names(settings):
        config.set_flag(getattr(trt.BuilderFlag, name))
    if settings.dla_core is not None:
        available = int(getattr(builder, "num_DLA_cores", 0))
        if settings.dla_core >= available:
            raise InputError(expected(f"a DLA core below {available} on this device", settings.dla_core, "--dla-core"))
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = settings.dla_core
    if settings.int8_mode == "calibrator":
        if calibrator is None:
            raise BenchError("int8_mode 'calibrator' needs a calibrator (see exporters.tensorrt_build.make_calibrator)")
        config.int8_calibrator = calibrator
    cache = None
    if timing_cache is not None:
        blob = timing_cache.read_bytes() if timing_cache.is_file() else b""
        cache = config.create_timing_cache(blob)
        config.set_timing_cache(cache, ignore_mismatch=False)
    start = time.monotonic()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.monotonic() - start
    if calibrator is not None and hasattr(calibrator, "release"):
        calibrator.release()
    if serialized is None:
        detail = logger.errors[-1] if logger.errors else "build_serialized_network returned None"
        raise BenchError(f"TensorRT engine build failed: {detail}")
    Path(out).write_bytes(bytes(serialized))
    if cache is not None:
        with atomic_path(timing_cache) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    return {
        "version": str(trt.__version__),
        "settings": settings.to_dict(),
        "builder_flags": builder_flag_names(settings),
        "engine_build_seconds": round(seconds, 2),
        "timing_cache": str(timing_cache) if timing_cache else None,
        "io": _engine_io(trt, logger, bytes(serialized)),
    }


def _batch_profile(trt, builder, network, config, batch: Optional[int]) -> int:
    """The network's batch: its static one, or ``batch`` fixed by an optimization profile when it is dynamic.

    Raises:
        InputError: a static batch that differs from an explicit ``batch``.
    """
    if not getattr(network, "num_inputs", 0):  # nothing to read (a fake network): the caller's batch
        return batch or 1
    tensor = network.get_input(0)
    shape = tuple(int(d) for d in tensor.shape)
    if shape and shape[0] > 0:
        if batch is not None and batch != shape[0]:
            raise InputError(expected(f"batch {shape[0]} (the ONNX input is fixed)", batch, "--batch"))
        return shape[0]
    fixed = (batch or 1,) + tuple(d if d > 0 else 1 for d in shape[1:])
    profile = builder.create_optimization_profile()
    profile.set_shape(tensor.name, fixed, fixed, fixed)
    config.add_optimization_profile(profile)
    return fixed[0]


def _engine_io(trt, logger, blob: bytes) -> List[dict]:
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(blob)
    if engine is None:
        raise BenchError("TensorRT could not deserialize the engine it just built")
    io = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        io.append({
            "name": name,
            "mode": "input" if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else "output",
            "shape": [int(d) for d in engine.get_tensor_shape(name)],
            "dtype": str(engine.get_tensor_dtype(name)).rsplit(".", 1)[-1].lower(),
        })
    return io


# ------------------------------------------------------------------------------- the device's cache

@dataclass(frozen=True)
class CachedEngine:
    """An engine in the device's cache.

    Attributes:
        path: the ``.engine`` file.
        record: its sidecar: ``key`` (what it was built from), ``sha256``, ``tensorrt`` (the build's manifest
            section: version, settings, flags, ``engine_build_seconds``, io) and ``device`` (the GPU tag).
        reused: True when it was already in the cache (nothing was built now).
    """

    path: Path
    record: Dict[str, Any]
    reused: bool

    def runtime_block(self) -> Dict[str, Any]:
        """What the result's ``runtime.engine`` says of it: TensorRT version, build seconds, reuse, device."""
        section = self.record["tensorrt"]
        return {"file": self.path.name, "tensorrt": section["version"], "device": self.record["device"],
                "build_seconds": section["engine_build_seconds"], "reused": self.reused,
                "settings": section["settings"], "source_sha256": self.record["key"]["onnx_sha256"]}


def cached_engine(onnx_path: Path, settings: TrtSettings, *, onnx_sha256: Optional[str] = None, batch: int = 1,
                  cache_dir: Optional[Path] = None, trt=None, tag: Optional[Tuple[str, Optional[Tuple[int, int]]]] = None,
                  progress: Optional[Callable[[str, int, Optional[int]], None]] = None) -> CachedEngine:
    """The engine of ``onnx_path`` for this GPU and TensorRT: reused from the cache, else built there atomically.

    Args:
        onnx_path: the ONNX the engine is built from (FP32, or the QDQ ONNX for INT8).
        settings: builder settings (``int8_mode`` "calibrator" is refused: no calibration images here).
        onnx_sha256: the ONNX's SHA-256 when already known (else it is computed).
        batch: the network's batch (part of the key; a static batch in the ONNX wins, see :func:`build_engine`).
        cache_dir: default ``runtime_cache_dir("tensorrt-engines")``.
        trt: the ``tensorrt`` module (tests inject a fake); default: imported, or MissingDependency.
        tag: ``(device tag, compute capability)``; default :func:`device_tag`.
        progress: called ``("building engine", 0, 1)`` and ``(..., 1, 1)`` (``"building engine (cached)"`` on reuse).

    Raises:
        MissingDependency: no tensorrt here (the message names the JetPack package).
        BenchError: no NVIDIA GPU, or TensorRT failed to parse or build (its own error, one line).
    """
    from common.atomic import atomic_path, write_json_atomic
    from common.hashing import file_sha256
    from common.paths import runtime_cache_dir

    emit = progress or (lambda stage, done, total: None)
    if settings.int8_mode == "calibrator":
        raise InputError(expected("an INT8 engine from the QDQ ONNX (int8_mode qdq): no calibration images on the device",
                                  "int8_mode calibrator", "engine"))
    trt = trt or import_tensorrt()
    gpu, capability = tag if tag is not None else device_tag()
    version = str(trt.__version__)
    key = {"onnx_sha256": onnx_sha256 or file_sha256(onnx_path), "settings": settings.to_dict(), "batch": batch,
           "device": gpu, "tensorrt": version}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(cache_dir) if cache_dir is not None else runtime_cache_dir(ENGINE_CACHE)
    final = folder / f"{Path(onnx_path).stem}-{settings.precision}-{gpu}-trt{version}{settings.tag}-{digest}.engine"
    sidecar = final.with_name(final.name + ".json")
    record = _read_record(sidecar)
    if record is not None and record.get("key") == key and final.is_file() and file_sha256(final) == record.get("sha256"):
        emit("building engine (cached)", 1, 1)
        return CachedEngine(final, record, reused=True)
    emit("building engine", 0, 1)
    with atomic_path(final) as tmp:  # a killed or failed build leaves no engine under the final name
        section = build_engine(Path(onnx_path), tmp, settings, timing_cache=folder / f"timing-{gpu}-trt{version}.cache",
                               compute_capability=capability, trt=trt, batch=batch)
    record = {"key": key, "sha256": file_sha256(final), "device": gpu, "tensorrt": section}
    write_json_atomic(sidecar, record)
    emit("building engine", 1, 1)
    return CachedEngine(final, record, reused=False)


def _read_record(path: Path) -> Optional[Dict[str, Any]]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def engine_job(job: Any, onnx_path: Path, *, progress=None, **engine_kwargs: Any) -> Tuple[Any, Path, Dict[str, Any]]:
    """A fleet job with an ``engine`` block, made runnable here: its engine(s) built from the shipped ONNX.

    Checks the shipped ONNX against the job, builds (or reuses) the engine with :func:`cached_engine` (and
    the batch-N one for the throughput pass when the job has a ``batch_artifact``), and returns the job
    pointed at the engine (``artifact`` format ``engine``, runtime ``tensorrt``), the engine's path, and the
    ``runtime.engine`` block for the result.

    Args:
        job: a :class:`devices.job.Job` whose ``engine`` is set and whose ``artifact`` is the shipped ONNX.
        onnx_path: where that ONNX lies (a batch ONNX lies beside it).
        engine_kwargs: passed to :func:`cached_engine` (``trt``, ``tag``, ``cache_dir``: tests inject them).

    Raises:
        InputError: the shipped file is not the job's ONNX; BenchError/MissingDependency from the build.
    """
    from devices.job import ArtifactRef
    from devices.worker import check_artifact

    check_artifact(job, Path(onnx_path))
    if job.engine.source is not None and job.engine.source.sha256 != job.artifact.sha256:
        raise InputError(expected(f"the engine's source ONNX {job.engine.source.name}", job.artifact.name,
                                  f"job {job.variant}.artifact"))
    settings = job.engine.settings()

    def build(ref: Any, batch: int) -> CachedEngine:
        path = Path(onnx_path).with_name(ref.name)
        return cached_engine(path, settings, onnx_sha256=ref.sha256, batch=batch, progress=progress, **engine_kwargs)

    single = build(job.artifact, 1)
    block = single.runtime_block()
    changes = {"artifact": ArtifactRef(single.path.name, single.record["sha256"], "engine"), "runtime": "tensorrt"}
    if job.batch_artifact is not None:  # the throughput pass's engine, from the batch-N ONNX shipped beside it
        check_artifact(replace(job, artifact=job.batch_artifact), Path(onnx_path).with_name(job.batch_artifact.name))
        batched = build(job.batch_artifact, job.batch)
        changes["batch_artifact"] = ArtifactRef(batched.path.name, batched.record["sha256"], "engine")
        block["batch"] = batched.runtime_block()
    return replace(job, **changes), single.path, block
