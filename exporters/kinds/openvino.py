"""The ``openvino`` format kind: what the OpenVINO runtime loads (``--runtime openvino``).

* ``fp32`` (and ``pruned30``, ``student``): the FP32 ONNX as is; OpenVINO reads ONNX and the runtime
  fixes its inference precision at f32 (:mod:`devices.runtimes.openvino`).
* ``bf16`` (and ``pruned30-bf16``, ``student-bf16``): the same FP32 ONNX, run at bf16 by the runtime
  (:mod:`exporters.kinds.bf16`).
* ``int8`` (and ``pruned30-int8``, ``student-int8``): NNCF post-training quantization of that ONNX on
  the same calibration images as ONNX Runtime's INT8, saved as an IR (:mod:`exporters.openvino_int8`).
* ``fp16``: not built (OpenVINO on a CPU has no FP16 variant here; a bf16 run is not an FP16 one).

Example:
    >>> KIND.name, KIND.role, KIND.builds("bf16"), KIND.builds("fp16")
    ('openvino', 'format', True, False)
"""

from __future__ import annotations

from exporters.kinds.base import Kind
from exporters.manifest import Artifact
from exporters.stage import Stage

__all__ = ["KIND"]

_PIP = "pip install 'edge-bench[openvino]'"


def _prepare(stage: Stage) -> None:
    """Refuse fp16 and, for INT8, a missing openvino/nncf before minutes of other work."""
    from common.errors import InputError, expected, require

    if not KIND.builds(stage.spec.precision):
        raise InputError(expected(f"an {', '.join(KIND.precisions[:-1])} or {KIND.precisions[-1]} variant for OpenVINO "
                                  f"({stage.spec.precision} is not built for it)", stage.spec.name, "variant"))
    if stage.spec.precision == "int8":
        require("openvino", pip=_PIP)
        require("nncf", pip=_PIP)


def _build(stage: Stage, fp32: Artifact) -> Artifact:
    if stage.spec.precision != "int8":
        return fp32
    from exporters.openvino_int8 import build_openvino_int8

    return build_openvino_int8(stage, fp32, stage.prepared["int8"][1])


KIND = Kind("openvino", "format", "the FP32 ONNX (fp32, bf16), or an NNCF INT8 OpenVINO IR (--runtime openvino)",
            prepare=_prepare, build=_build, int8_profile="cpu", precisions=("fp32", "int8", "bf16"))
