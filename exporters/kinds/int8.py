"""The ``int8`` precision kind: static post-training quantization of the FP32 ONNX on train-split images.

The calibration images go through the inference letterbox (:mod:`harness.pipeline.preprocess`);
the cache key holds that code's :data:`~harness.pipeline.preprocess.PREPROCESS_VERSION`, so a
change of the preprocessing (with its version bumped) recalibrates every INT8 artifact.

Example:
    >>> Int8Options().calib_method
    'percentile'
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import InputError, expected
from exporters.int8 import CALIBRATION_METHODS
from exporters.kinds.base import Kind, option
from exporters.manifest import Artifact, tool_versions
from exporters.stage import Stage, common_fields

__all__ = ["KIND", "Int8Options", "int8_cache_key", "int8_onnx"]

_ORT_TOOLS = ("onnx", "onnxruntime")


@dataclass(frozen=True)
class Int8Options:
    """Options of INT8 variants (the image count is a common build argument: ``calib_images``)."""

    calib_method: str = option(str, "percentile", "INT8 calibration: percentile (99.999th), entropy or minmax",
                               flags=("--calib-method",), choices=CALIBRATION_METHODS)


def _prepare(stage: Stage) -> None:
    from exporters.calibration import select_calibration_images
    from exporters.int8 import int8_settings

    if stage.data_yaml is None:
        raise InputError(expected("a dataset YAML whose train images calibrate INT8 (bench run: --calib-data or --data; "
                                  "bench export: --data)", "none", "--data"))
    opts: Int8Options = stage.options["int8"]
    profile = stage.kinds["format"].int8_profile or "cpu"
    quant = int8_settings(method=opts.calib_method, profile=profile, calib_images=stage.calib_images)
    calib = select_calibration_images(Path(stage.data_yaml), count=stage.calib_images)
    stage.prepared["int8"] = (quant, calib)


def int8_cache_key(stage: Stage, fp32: Artifact, settings: Any, calib: Any) -> dict:
    """Everything an INT8 ONNX depends on (hashed into its cache key)."""
    from exporters.int8 import keeps_p3_float
    from harness.pipeline.preprocess import PREPROCESS_VERSION

    return {
        "stage": f"onnx-int8-{settings.profile}",
        "parent_sha256": fp32.manifest["artifact"]["sha256"],
        "imgsz": stage.imgsz,
        "settings": settings.to_dict(),
        "float_p3_block": keeps_p3_float(settings, stage.src.family),
        "calibration_images_sha256": calib.digest,
        "preprocess_version": PREPROCESS_VERSION,
        "tools": tool_versions(_ORT_TOOLS),
    }


def int8_onnx(stage: Stage, fp32: Artifact) -> Artifact:
    """The quantized ONNX (``int8-320.onnx``, or ``int8-qdq-trt-320.onnx`` for TensorRT), cached."""
    import onnx

    from exporters.calibration import ImageCalibrationReader
    from exporters.int8 import quantize_int8
    from exporters.onnx_export import describe_io
    from harness.pipeline.preprocess import PREPROCESS_VERSION

    settings, calib = stage.prepared["int8"]
    spec = stage.spec
    suffix = "" if settings.profile == "cpu" else f"-qdq-{settings.profile}"
    final = stage.dir / f"{spec.with_(fmt='onnx').name}{suffix}-{stage.size}.onnx"
    key = int8_cache_key(stage, fp32, settings, calib)

    def build(tmp: Path) -> dict:
        reader = ImageCalibrationReader(calib.files, imgsz=stage.imgsz, progress=stage.progress)
        with contextlib.redirect_stdout(sys.stderr):  # ONNX Runtime's calibrator prints; stdout is the caller's
            record = quantize_int8(fp32.path, tmp, reader, settings=settings, family=stage.src.family)
        record["calibration"] = {**calib.provenance(), "method": record["method_used"],
                                 "preprocess_version": PREPROCESS_VERSION}
        fields = common_fields(stage, spec.with_(fmt="onnx"), stage.src, fp32)
        fields.update(describe_io(onnx.load(str(tmp))))
        fields["onnx"] = fp32.manifest.get("onnx", {})
        fields["quantization"] = record
        return fields

    return stage.cached(final, key, build, f"quantize int8 ({settings.profile})")


KIND = Kind("int8", "precision", "INT8 (static quantization, calibrated on the dataset's train images)",
            options=Int8Options, prepare=_prepare, build=int8_onnx)
