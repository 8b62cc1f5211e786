"""The ``onnx`` format kind: the precision stage's ONNX is the artifact (ONNX Runtime loads it).

Example:
    >>> KIND.int8_profile
    'cpu'
"""

from __future__ import annotations

from typing import Any

from exporters.kinds.base import Kind

__all__ = ["KIND"]


def _build(stage: Any, fp32: Any) -> Any:
    return stage.kinds["precision"].build(stage, fp32)


KIND = Kind("onnx", "format", "an ONNX model (ONNX Runtime)", build=_build, int8_profile="cpu")
