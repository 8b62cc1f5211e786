"""TensorRT engines, host side: builder settings from a ``trt`` variant, the INT8 entropy calibrator, the engine's source ONNX.

The builder itself (:func:`build_engine`, :class:`TrtSettings`, :func:`device_tag`, the logger and
timing cache) lives in :mod:`devices.trt_engine`, so a fleet device builds engines without the
exporters; it is re-exported here under its old names. Engines are specific to the GPU and the
TensorRT version that built them, so they are cached per device tag + TensorRT version (both are in
the file name and in the cache key). Precisions:

* ``fp32`` / ``fp16`` -- from the FP32 ONNX (``BuilderFlag.FP16`` for fp16);
* ``int8`` -- *explicit* quantization (default): from the QDQ ONNX made with the ``trt`` profile of
  :mod:`exporters.int8` (symmetric INT8, head decode left float); or ``int8_mode="calibrator"``:
  from the FP32 ONNX with an entropy calibrator over the same train images, where the installed
  TensorRT still has ``IInt8EntropyCalibrator2`` (deprecated in 10.x, removed later).

:func:`engine_source` names the ONNX an engine is built from, which the host of a fleet run builds and
ships (the device builds the engine: :func:`devices.trt_engine.engine_job`).

Options: workspace limit, a persistent timing cache (faster rebuilds), DLA core with GPU fallback
(Jetson), and the 2:4 structured-sparsity flag (Ampere and newer; it only helps when weights
actually are 2:4 sparse -- the channel-pruned models here are dense).

This cannot run without an NVIDIA GPU. ``python -m exporters.trt_smoke`` is the on-device check.

Example:
    >>> from exporters.spec import parse_variant
    >>> s = trt_settings(parse_variant("int8", fmt="trt"))
    >>> builder_flag_names(s)
    ['FP16', 'INT8']
    >>> spec, profile = engine_source(parse_variant("pruned30-fp16", fmt="trt"), TrtSettings("fp16"))
    >>> spec.name, spec.fmt, profile
    ('pruned30', 'onnx', None)
"""

from __future__ import annotations

from pathlib import Path

from common.errors import BenchError, InputError, MissingDependency, expected
from devices.trt_engine import (
    INT8_MODES,
    TRT_PIP,
    TrtSettings,
    build_engine,
    builder_flag_names,
    device_tag,
    import_tensorrt,
)

__all__ = [
    "INT8_MODES",
    "TRT_PIP",
    "TrtSettings",
    "build_engine",
    "builder_flag_names",
    "device_tag",
    "engine_source",
    "import_tensorrt",
    "make_calibrator",
    "trt_settings",
]


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


def engine_source(spec, settings: TrtSettings) -> tuple:
    """The ONNX variant a ``trt`` variant's engine is built from, and the INT8 profile that ONNX is quantized with.

    What :mod:`exporters.kinds.trt` builds its engine from: the FP32 ONNX for fp32/fp16 (and for the
    INT8 calibrator), the QDQ ONNX quantized with the ``trt`` profile for INT8 (``qdq``). A fleet host
    builds it (``build_variant(source, spec, int8_profile=profile)``) and ships it to the device.

    Returns:
        ``(VariantSpec with format onnx, "trt" or None)``.

    Raises:
        InputError: ``int8_mode`` "calibrator" (its calibration images are not shipped to a device).
    """
    if spec.precision != "int8":
        return spec.with_(precision="fp32", fmt="onnx"), None
    if settings.int8_mode != "qdq":
        raise InputError(expected("--trt-int8 qdq for an engine built on another machine (the calibrator needs the "
                                  "calibration images there)", settings.int8_mode, "--trt-int8"))
    return spec.with_(fmt="onnx"), "trt"


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
