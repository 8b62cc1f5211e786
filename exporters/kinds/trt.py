"""The ``trt`` format kind: a TensorRT engine built on the target device from the variant's ONNX.

FP16 engines build from the FP32 ONNX with the FP16 flag; INT8 engines from the QDQ ONNX quantized
for TensorRT (``--trt-int8 qdq``, default) or from the FP32 ONNX with TensorRT's entropy
calibrator (``--trt-int8 calibrator``). Engines are specific to the GPU and TensorRT version, so
both are part of the file name and the cache key.

Example:
    >>> TrtOptions().trt_int8_mode
    'qdq'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exporters.kinds.base import Kind, option
from exporters.manifest import Artifact
from exporters.stage import Stage, common_fields
from exporters.tensorrt_build import INT8_MODES

__all__ = ["KIND", "TrtOptions"]


@dataclass(frozen=True)
class TrtOptions:
    """Builder options of TensorRT variants."""

    trt_int8_mode: str = option(str, "qdq", "TensorRT INT8: explicit QDQ or TensorRT's calibrator",
                                flags=("--trt-int8",), choices=INT8_MODES)
    workspace_mib: int = option(int, 1024, "TensorRT builder workspace in MiB", flags=("--workspace",))
    dla_core: int | None = option(int, None, "build for this DLA core (GPU fallback on)", flags=("--dla-core",))
    sparse_weights: bool = option(bool, False, "allow 2:4 sparse kernels (Ampere+)", flags=("--sparse",))


def _prepare(stage: Stage) -> None:
    """Fail on a missing TensorRT or GPU, or a bad option, before minutes of other work."""
    from exporters.tensorrt_build import device_tag, import_tensorrt, trt_settings

    opts: TrtOptions = stage.options["trt"]
    settings = trt_settings(stage.spec, int8_mode=opts.trt_int8_mode, workspace_mib=opts.workspace_mib,
                            dla_core=opts.dla_core, sparse_weights=opts.sparse_weights)
    trt = import_tensorrt()
    stage.prepared["trt"] = (settings, trt, device_tag())


def _build(stage: Stage, fp32: Artifact) -> Artifact:
    settings = stage.prepared["trt"][0]
    onnx_in = fp32
    if stage.spec.precision == "int8" and settings.int8_mode == "qdq":
        from exporters.kinds.int8 import int8_onnx

        onnx_in = int8_onnx(stage, fp32)
    return _engine(stage, onnx_in)


def _engine(stage: Stage, onnx_in: Artifact) -> Artifact:
    from exporters.tensorrt_build import build_engine, make_calibrator
    from harness.pipeline.preprocess import PREPROCESS_VERSION

    settings, trt, (tag, capability) = stage.prepared["trt"]
    spec = stage.spec
    version = str(trt.__version__)
    final = stage.dir / f"{spec.name}-{stage.size}-{tag}-trt{version}{settings.tag}.engine"
    key = {
        "stage": "tensorrt-engine",
        "parent_sha256": onnx_in.manifest["artifact"]["sha256"],
        "imgsz": stage.imgsz,
        "settings": settings.to_dict(),
        "device": tag,
        "tensorrt": version,
    }
    calib = None
    if settings.int8_mode == "calibrator":
        calib = stage.prepared["int8"][1]
        key["calibration_images_sha256"] = calib.digest
        key["preprocess_version"] = PREPROCESS_VERSION
    timing = stage.dir.parent / "tensorrt" / f"timing-{tag}-trt{version}.cache"
    timing.parent.mkdir(parents=True, exist_ok=True)

    def build(tmp: Path) -> dict:
        calibrator = None
        if calib is not None:
            from exporters.calibration import ImageCalibrationReader

            reader = ImageCalibrationReader(calib.files, imgsz=stage.imgsz, progress=stage.progress)
            cache_file = stage.dir / f"{spec.name}-{stage.size}-{tag}-trt{version}-{calib.digest[:12]}.calib"
            calibrator = make_calibrator(trt, reader, cache_file=cache_file)
        section = build_engine(onnx_in.path, tmp, settings, timing_cache=timing, calibrator=calibrator,
                               compute_capability=capability, trt=trt)
        section["device"] = tag
        if calib is not None:
            section["calibration"] = {**calib.provenance(), "method": "TensorRT entropy calibrator 2",
                                      "preprocess_version": PREPROCESS_VERSION}
        fields = common_fields(stage, spec, stage.src, onnx_in)
        fields["input"] = next((t for t in section["io"] if t["mode"] == "input"), None)
        fields["output"] = next((t for t in section["io"] if t["mode"] == "output"), None)
        fields["tensorrt"] = section
        if "quantization" in onnx_in.manifest:
            fields["quantization"] = onnx_in.manifest["quantization"]
        return fields

    return stage.cached(final, key, build, "build tensorrt engine")


KIND = Kind("trt", "format", "a TensorRT engine, built on the target device (--format trt)",
            options=TrtOptions, prepare=_prepare, build=_build, int8_profile="trt")
