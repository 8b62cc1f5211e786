"""The ``bf16`` precision kind: the FP32 ONNX as it is, run by OpenVINO at its bf16 inference precision.

No new file is built: OpenVINO reads the FP32 ONNX and the runtime fixes ``INFERENCE_PRECISION_HINT``
at ``bf16`` for this variant (:mod:`devices.runtimes.openvino`), on a CPU whose capabilities include
BF16 (AMX, AVX512-BF16); elsewhere the row is skipped with the reason
(:meth:`devices.runtimes.RuntimeInfo.precision_reason`), never run emulated and never labelled FP32.
ONNX Runtime and TensorRT have no bf16 variant here, so only the ``openvino`` format builds it.

Example:
    >>> KIND.name, KIND.role, KIND.formats
    ('bf16', 'precision', ('openvino',))
"""

from __future__ import annotations

from typing import Any

from common.errors import InputError, expected
from exporters.kinds.base import Kind

__all__ = ["KIND"]

_FORMATS = ("openvino",)  # OpenVINO's; ONNX Runtime and TensorRT have no bf16 variant here


def _prepare(stage: Any) -> None:
    """Refuse a format whose runtime would run the FP32 file as FP32 under a bf16 label."""
    if stage.spec.fmt not in _FORMATS:
        raise InputError(expected(f"the {' or '.join(_FORMATS)} format for {stage.spec.name} (OpenVINO runs the FP32 ONNX "
                                  f"at bf16; {stage.spec.fmt} has no bf16 inference precision)", stage.spec.fmt,
                                  "--format"))


def _as_is(stage: Any, fp32: Any) -> Any:
    return fp32


KIND = Kind("bf16", "precision", "BF16: the FP32 ONNX at OpenVINO's bf16 inference precision (CPUs with native BF16)",
            prepare=_prepare, build=_as_is, formats=_FORMATS)
