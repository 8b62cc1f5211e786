"""The source model as it is: the ``plain`` model kind and the ``fp32`` precision kind (both pass through).

Example:
    >>> PLAIN.role, FP32.role
    ('model', 'precision')
"""

from __future__ import annotations

from typing import Any

from exporters.kinds.base import Kind

__all__ = ["FP32", "PLAIN"]


def _checkpoint(stage: Any) -> Any:
    return stage.src


def _as_is(stage: Any, fp32: Any) -> Any:
    return fp32


PLAIN = Kind("plain", "model", "the source model's own weights", build=_checkpoint)
FP32 = Kind("fp32", "precision", "FP32: the exported ONNX as it is", build=_as_is)
