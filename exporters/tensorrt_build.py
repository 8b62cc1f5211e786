"""TensorRT engine builder (TensorRT 8.6 and 10.x Python API), run on the target device.

Engines are specific to the GPU and the TensorRT version that built them, so they are cached per
device tag + TensorRT version (both are in the file name and in the cache key). Precisions:

* ``fp32`` / ``fp16`` -- from the FP32 ONNX (``BuilderFlag.FP16`` for fp16);
* ``int8`` -- *explicit* quantization (default): from the QDQ ONNX made with the ``trt`` profile of
  :mod:`exporters.int8` (symmetric INT8, head decode left float); or ``int8_mode="calibrator"``:
  from the FP32 ONNX with an entropy calibrator over the same train images, where the installed
  TensorRT still has ``IInt8EntropyCalibrator2`` (deprecated in 10.x, removed later).

Options: workspace limit, a persistent timing cache (faster rebuilds), DLA core with GPU fallback
(Jetson), and the 2:4 structured-sparsity flag (Ampere and newer; it only helps when weights
actually are 2:4 sparse -- the channel-pruned models here are dense).

This cannot run without an NVIDIA GPU. ``python -m exporters.trt_smoke`` is the on-device check.

Example:
    >>> from exporters.spec import parse_variant
    >>> s = trt_settings(parse_variant("int8", fmt="trt"))
    >>> builder_flag_names(s)
    ['FP16', 'INT8']
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from common.errors import BenchError, InputError, MissingDependency, expected, require

__all__ = [
    "INT8_MODES",
    "TRT_PIP",
    "TrtSettings",
    "build_engine",
    "builder_flag_names",
    "device_tag",
    "import_tensorrt",
    "trt_settings",
]

TRT_PIP = "pip install 'edge-bench[tensorrt]' (on Jetson: sudo apt install python3-libnvinfer)"
INT8_MODES = ("qdq", "calibrator")


@dataclass(frozen=True)
class TrtSettings:
    """Builder settings for one engine (validated by :func:`trt_settings`).

    Attributes:
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"``.
        int8_mode: ``"qdq"`` (explicit, from the QDQ ONNX) or ``"calibrator"``; ``None`` unless int8.
        workspace_mib: builder workspace memory-pool limit.
        dla_core: DLA core index (Jetson), ``None`` for the GPU.
        gpu_fallback: let layers the DLA cannot run fall back to the GPU.
        sparse_weights: allow 2:4 structured-sparse kernels.
    """

    precision: str
    int8_mode: str | None = None
    workspace_mib: int = 1024
    dla_core: int | None = None
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


def trt_settings(
    spec,
    *,
    int8_mode: str = "qdq",
    workspace_mib: int = 1024,
    dla_core: int | None = None,
    sparse_weights: bool = False,
) -> TrtSettings:
    """Validate builder options for a ``trt`` variant.

    Args:
        spec: a :class:`exporters.spec.VariantSpec` with ``fmt == "trt"``.
        int8_mode: ``"qdq"`` or ``"calibrator"`` (int8 variants only).
        workspace_mib: workspace limit in MiB (>= 16).
        dla_core: DLA core index, or ``None``.
        sparse_weights: enable 2:4 sparse kernels.

    Raises:
        InputError: an option out of range or not applicable.

    Example:
        >>> from exporters.spec import parse_variant
        >>> trt_settings(parse_variant("fp16", fmt="trt"), dla_core=0).tag
        '-dla0'
    """
    if spec.fmt != "trt":
        raise InputError(expected("a variant with format trt", spec.fmt, "--format"))
    if int8_mode not in INT8_MODES:
        raise InputError(expected(f"an INT8 mode in {INT8_MODES}", repr(int8_mode), "--trt-int8"))
    if not isinstance(workspace_mib, int) or workspace_mib < 16:
        raise InputError(expected("a workspace of at least 16 MiB", workspace_mib, "--workspace"))
    if dla_core is not None and (not isinstance(dla_core, int) or dla_core < 0):
        raise InputError(expected("a DLA core index >= 0", dla_core, "--dla-core"))
    mode = int8_mode if spec.precision == "int8" else None
    return TrtSettings(spec.precision, mode, workspace_mib, dla_core, True, bool(sparse_weights))


def builder_flag_names(settings: TrtSettings) -> list[str]:
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
    """Import ``tensorrt`` or raise :class:`MissingDependency` naming what to install."""
    return require("tensorrt", pip=TRT_PIP)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def device_tag(
    *,
    read_text: Callable[[Path], str] = lambda p: Path(p).read_text(errors="replace"),
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> tuple[str, tuple[int, int] | None]:
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
        cc = (int(match[1]), int(match[2]))
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
            self.errors: list[str] = []

        def log(self, severity, msg):
            if int(severity) <= int(trt.ILogger.Severity.ERROR):
                self.errors.append(str(msg))

    return Logger()


def make_calibrator(trt, reader, *, cache_file: Path, cudart=None):
    """An ``IInt8EntropyCalibrator2`` feeding ``reader``'s images from device memory.

    Its batch is the reader's (``reader.batch``, 1 for a plain reader); :func:`build_engine` calls
    ``use_batch(N)`` for a network with a static batch N, so the same images are fed N per call.

    Raises:
        MissingDependency: this TensorRT has no calibrators, or cuda-python is missing.
    """
    base = getattr(trt, "IInt8EntropyCalibrator2", None)
    if base is None:
        raise MissingDependency(
            f"TensorRT {trt.__version__} has no INT8 calibrators; use the explicit QDQ INT8 (--trt-int8 qdq)"
        )
    if cudart is None:
        cudart = _import_cudart()

    class EntropyCalibrator(base):
        def __init__(self):
            base.__init__(self)
            self.pointer = None
            self.nbytes = 0
            self.reader = reader

        def use_batch(self, batch: int) -> None:
            from exporters.calibration import batched_reader

            self.reader = batched_reader(self.reader, batch)

        def get_batch_size(self):
            return int(getattr(self.reader, "batch", 1))

        def get_batch(self, names):  # noqa: ARG002 - one input
            item = self.reader.get_next()
            if item is None:
                return None
            array = next(iter(item.values()))
            if self.pointer is None:
                err, self.pointer = cudart.cudaMalloc(array.nbytes)
                _check(cudart, err, "cudaMalloc")
                self.nbytes = array.nbytes
            err = cudart.cudaMemcpy(self.pointer, array.ctypes.data, self.nbytes,
                                    cudart.cudaMemcpyKind.cudaMemcpyHostToDevice)
            _check(cudart, err[0] if isinstance(err, tuple) else err, "cudaMemcpy")
            return [int(self.pointer)]

        def read_calibration_cache(self):
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache):
            from exporters.manifest import atomic_path

            with atomic_path(cache_file) as tmp:
                tmp.write_bytes(bytes(cache))

        def release(self):
            if self.pointer is not None:
                cudart.cudaFree(self.pointer)
                self.pointer = None

    return EntropyCalibrator()


def _import_cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError as exc:
            raise MissingDependency(
                f"cuda-python is not importable ({exc}); INT8 calibration needs it: pip install cuda-python"
            ) from exc
    return cudart


def _check(cudart, err, what: str) -> None:
    if int(err) != 0:
        raise BenchError(f"CUDA {what} failed with error {int(err)} during INT8 calibration")


def build_engine(
    onnx_path: Path,
    out: Path,
    settings: TrtSettings,
    *,
    timing_cache: Path | None = None,
    calibrator=None,
    compute_capability: tuple[int, int] | None = None,
    trt=None,
    batch: int | None = None,
) -> dict:
    """Build and serialize a TensorRT engine from an ONNX file.

    Args:
        onnx_path: the FP32 ONNX (or the QDQ ONNX for explicit INT8).
        out: where to write the serialized engine.
        settings: validated :class:`TrtSettings`.
        timing_cache: a file to load and update (speeds up later builds on the same device).
        calibrator: from :func:`make_calibrator`, only for ``int8_mode="calibrator"``.
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
            raise BenchError("int8_mode 'calibrator' needs a calibrator (see make_calibrator)")
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
        from exporters.manifest import atomic_path

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


def _batch_profile(trt, builder, network, config, batch: int | None) -> int:
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


def _engine_io(trt, logger, blob: bytes) -> list[dict]:
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
