"""The ``fp16`` precision kind: the FP32 ONNX converted to FP16 weights and activations (I/O kept FP32).

Example:
    >>> KIND.name, KIND.options is None
    ('fp16', True)
"""

from __future__ import annotations

from typing import Any

from exporters.kinds.base import Kind
from exporters.manifest import Artifact, tool_versions
from exporters.stage import Stage, common_fields

__all__ = ["KIND", "fp16_onnx"]

_ORT_TOOLS = ("onnx", "onnxruntime")


def fp16_onnx(stage: Stage, fp32: Artifact) -> Artifact:
    """``<variant>-<imgsz>.onnx`` converted from the FP32 ONNX (cached)."""
    import onnx

    from exporters.onnx_export import convert_fp16, describe_io

    spec = stage.spec
    final = stage.dir / f"{spec.name}-{stage.size}.onnx"
    key = {"stage": "onnx-fp16", "parent_sha256": fp32.manifest["artifact"]["sha256"], "imgsz": stage.imgsz,
           "tools": tool_versions(_ORT_TOOLS)}

    def build(tmp) -> dict:
        info = convert_fp16(fp32.path, tmp)
        fields = common_fields(stage, spec.with_(fmt="onnx"), stage.src, fp32)
        fields.update(describe_io(onnx.load(str(tmp))))
        fields["onnx"] = {**fp32.manifest.get("onnx", {}), "fp16": info}
        return fields

    return stage.cached(final, key, build, "convert fp16")


def _build(stage: Any, fp32: Artifact) -> Artifact:
    return fp16_onnx(stage, fp32)


KIND = Kind("fp16", "precision", "FP16 ONNX", build=_build)
