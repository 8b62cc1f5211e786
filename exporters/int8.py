"""INT8 by ONNX Runtime static quantization (QDQ), calibrated on train images, head decode kept float.

Measured facts this module is built on (issue 4):

* Quantizing the whole graph gives mAP 0: the output Concat mixes box pixels (0..640) and class
  probabilities (0..1) in one INT8 scale, which rounds every score to 0. The Detect head's decode
  -- DFL, class Sigmoid, the box Concat/Mul/Add/Sub/Div after the last convolutions -- is therefore
  excluded (found by :func:`exporters.onnx_export.head_decode`); with that, mAP50-95 stayed at
  0.477 vs 0.491 FP32 on a small model.
* On x86 CPUs, activations QUInt8 (asymmetric) + weights QInt8 per-channel ran ~1.6x faster than
  FP32, while the S8S8 default (what Ultralytics' ``quantize=8`` ONNX export uses) ran ~2x *slower*.
* Calibration method, shipped yolo11n at 320 px (FP32 mAP50-95 0.669): percentile (99.999th of |x|)
  0.664, entropy 0.661, minmax 0.653 -- percentile is the default. Where a histogram method cannot
  run (near-constant tensors, e.g. untrained weights) min/max is used and the manifest says so
  (``method_used``, ``fallback``).

* YOLO12 (yolo12n, 320 px): the same recipe dropped 2.6 points of mAP50-95 (Ultralytics val 0.621 ->
  0.595). Leaving one block at a time in float (a sweep on 16 val images) showed the error sits in the
  neck block that feeds the Detect head's stride-8 branch (``/model.14/``): in float, box error halved
  and the drop became 1.26 points (0.608) at the same speed (1.12x vs 1.13x FP32). For YOLO11n the
  same block in float changed nothing (0.6636 vs 0.6635). So for the YOLO12 family that block stays
  float (:func:`p3_neck_block`; the manifest's ``float_block`` says which nodes).

Two profiles:

* ``cpu`` (default, for ONNX Runtime CPU): QUInt8 activations, QInt8 per-channel weights, every
  quantizable op outside the decode.
* ``trt`` (the explicit-quantization input of TensorRT): symmetric QInt8 activations and weights
  (TensorRT accepts only zero-point 0), per-channel weights, Q/DQ on Conv/MatMul inputs only
  (their outputs are not quantized, so the head convolutions feed the decode in float).

Example:
    >>> settings = int8_settings(method="entropy")
    >>> settings.to_dict()["activation_type"]
    'QUInt8'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError, expected, require

__all__ = ["CALIBRATION_METHODS", "FLOAT_P3_FAMILIES", "PROFILES", "Int8Settings", "int8_settings", "keeps_p3_float",
           "p3_neck_block", "quantize_int8"]

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
PROFILES = ("cpu", "trt")
_ORT_METHOD = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
_TRT_OPS = ("Conv", "MatMul")
# Families whose stride-8 neck block stays float in the ``cpu`` profile (measured, see the module docstring).
FLOAT_P3_FAMILIES = ("yolo12",)


@dataclass(frozen=True)
class Int8Settings:
    """How to quantize (validated by :func:`int8_settings`).

    Attributes:
        method: calibration method, one of :data:`CALIBRATION_METHODS`.
        profile: ``"cpu"`` or ``"trt"`` (see the module docstring).
        calib_images: how many train images calibrate the ranges.
    """

    method: str = "percentile"
    profile: str = "cpu"
    calib_images: int = 200

    @property
    def activation_type(self) -> str:
        return "QUInt8" if self.profile == "cpu" else "QInt8"

    @property
    def symmetric_activations(self) -> bool:
        return self.profile == "trt"

    def to_dict(self) -> dict:
        """JSON-ready record (goes into the cache key and the manifest)."""
        return {
            "method": self.method,
            "profile": self.profile,
            "calib_images": self.calib_images,
            "format": "QDQ",
            "activation_type": self.activation_type,
            "activation_symmetric": self.symmetric_activations,
            "weight_type": "QInt8",
            "per_channel": True,
            "op_types": "all quantizable" if self.profile == "cpu" else list(_TRT_OPS),
            "excluded": "Detect head decode (DFL, Sigmoid, box arithmetic, output Concat)",
        }


def int8_settings(*, method: str = "percentile", profile: str = "cpu", calib_images: int = 200) -> Int8Settings:
    """Validate INT8 options.

    Raises:
        InputError: an unknown method or profile, or a non-positive image count.

    Example:
        >>> int8_settings(method="percentile", profile="trt").activation_type
        'QInt8'
    """
    method_clean = str(method).strip().lower()
    if method_clean not in CALIBRATION_METHODS:
        raise InputError(expected(f"a calibration method in {CALIBRATION_METHODS}", repr(method), "--calib-method"))
    if profile not in PROFILES:
        raise InputError(expected(f"an INT8 profile in {PROFILES}", repr(profile), "profile"))
    if not isinstance(calib_images, int) or calib_images < 1:
        raise InputError(expected("a calibration image count >= 1", calib_images, "--calib-images"))
    return Int8Settings(method_clean, profile, calib_images)


def keeps_p3_float(settings: Int8Settings, family: str | None) -> bool:
    """Whether this quantization leaves the stride-8 neck block float (it is part of the cache key)."""
    return settings.profile == "cpu" and family in FLOAT_P3_FAMILIES


def p3_neck_block(model) -> tuple[str | None, list[str]]:
    """The block whose output feeds the Detect head's stride-8 branch, and its node names.

    Ultralytics exports name nodes by module (``/model.14/cv2/act/Mul``); the Detect head's first
    box convolution of the stride-8 level is ``/model.D/cv2.0/...``. Its input comes from the last
    neck block of that level, ``/model.K/``.

    Returns:
        ``("/model.K/", [node names])``, or ``(None, [])`` if the graph is not named that way.
    """
    import re

    producer = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        head = re.match(r"^(/model\.\d+)/cv2\.0/", node.name or "")
        if node.op_type != "Conv" or head is None:
            continue
        source = producer.get(node.input[0])
        block = re.match(r"^(/model\.\d+)/", (source.name or "") if source is not None else "")
        if block is None or block.group(1) == head.group(1):
            return None, []
        prefix = block.group(1) + "/"
        return prefix, [n.name for n in model.graph.node if (n.name or "").startswith(prefix)]
    return None, []


def _name_nodes(model) -> None:
    used = {n.name for n in model.graph.node if n.name}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{index}"
            while name in used:
                name += "_"
            node.name = name
            used.add(name)


def _chunk_size(total: int, *, limit: int = 16) -> int:
    """The largest divisor of ``total`` not above ``limit`` (ONNX Runtime needs equal chunks)."""
    return max(d for d in range(1, min(limit, total) + 1) if total % d == 0)


def quantize_int8(fp32_path: Path, out: Path, reader, *, settings: Int8Settings, family: str | None = None) -> dict:
    """Quantize an FP32 detection ONNX to a QDQ INT8 model, leaving the head decode in float.

    Args:
        fp32_path: the FP32 export (static shapes).
        out: where to write the INT8 model.
        reader: a calibration reader (``get_next()`` -> ``{input: tensor}`` or ``None``), e.g.
            :class:`exporters.calibration.ImageCalibrationReader`; for a graph with a static batch N it
            is re-read N images per item (the same images).
        settings: validated :class:`Int8Settings`.
        family: the source's family; for :data:`FLOAT_P3_FAMILIES` (``cpu`` profile) the stride-8 neck
            block stays float.

    Returns:
        The ``quantization`` section of the manifest (settings plus the excluded node names).

    Raises:
        InputError: the graph has no recognizable Detect head decode.
    """
    onnx = require("onnx", extra="export")
    quant = require("onnxruntime.quantization", pip="pip install onnxruntime")
    from exporters.calibration import batched_reader
    from exporters.onnx_export import head_decode, input_batch

    model = onnx.load(str(fp32_path))
    reader = batched_reader(reader, input_batch(model))  # a batch-N export calibrates on N images per item
    _name_nodes(model)
    decode, head_convs = head_decode(model)
    if not head_convs or not any(model_node.op_type == "Sigmoid" for model_node in model.graph.node if model_node.name in decode):
        raise InputError(
            expected("a YOLO Detect head (convolutions followed by the box/class decode)", "no such head", str(fp32_path))
        )
    excluded = sorted(decode)
    float_block = None
    if keeps_p3_float(settings, family):
        prefix, nodes = p3_neck_block(model)
        if prefix is not None:
            excluded = sorted(set(excluded) | set(nodes))
            float_block = {"block": prefix, "nodes": len(nodes),
                           "why": f"{family}: the stride-8 neck block loses the most accuracy in INT8"}
    kwargs = {
        "quant_format": quant.QuantFormat.QDQ,
        "activation_type": getattr(quant.QuantType, settings.activation_type),
        "weight_type": quant.QuantType.QInt8,
        "per_channel": True,
        "nodes_to_exclude": excluded,
        "calibrate_method": getattr(quant.CalibrationMethod, _ORT_METHOD[settings.method]),
        "extra_options": {
            "ActivationSymmetric": settings.symmetric_activations,
            "WeightSymmetric": True,
        },
    }
    if hasattr(reader, "set_range") and hasattr(reader, "__len__") and len(reader) > 0:
        # Calibrate in chunks: ONNX Runtime otherwise keeps every intermediate tensor of every image in
        # memory (gigabytes for 200 images at 640 px); ranges and histograms merge across chunks.
        kwargs["extra_options"]["CalibStridedMinMax"] = _chunk_size(len(reader))
    if settings.profile == "trt":
        # Q/DQ only in front of weighted layers, the placement TensorRT fuses best; outputs stay float
        kwargs["op_types_to_quantize"] = list(_TRT_OPS)
        kwargs["extra_options"]["OpTypesToExcludeOutputQuantization"] = list(_TRT_OPS)
    record = settings.to_dict()
    try:
        quant.quantize_static(model, str(out), reader, **kwargs)
        record["method_used"] = settings.method
    except ValueError as exc:
        # numpy cannot histogram a near-constant tensor (untrained models have them): fall back to
        # min/max ranges, and say so in the manifest
        if "bins" not in str(exc) or settings.method == "minmax" or not hasattr(reader, "rewind"):
            raise
        reader.rewind()
        kwargs["calibrate_method"] = quant.CalibrationMethod.MinMax
        model = onnx.load(str(fp32_path))  # quantize_static moved the first copy's weights to a deleted folder
        _name_nodes(model)
        quant.quantize_static(model, str(out), reader, **kwargs)
        record["method_used"] = "minmax"
        record["fallback"] = f"{settings.method} calibration failed on a near-constant tensor ({exc})"
    record["excluded_nodes"] = sorted(decode)
    record["float_block"] = float_block
    record["head_convs"] = sorted(head_convs)
    record["tool"] = "onnxruntime.quantization.quantize_static"
    return record
