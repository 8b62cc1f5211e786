"""The fp16 row's skip reason names the runtime the row really runs on: on OpenVINO (whose format builds no
FP16 artifact) it says so and points to bf16; on ONNX Runtime it keeps the cpu profile's text about its kernels."""

from __future__ import annotations

import pytest

from devices.resolve import resolve_device
from harness.options import RunOptions
from harness.plan import plan_variants
from tests.harness.test_force_reason import CAPS_ALL, CAPS_NONE, _MODEL, _hardware

ORT_TEXT = "fp16 is not fast on cpu: ONNX Runtime's CPU execution provider has no fast FP16 kernels"
OV_TEXT = ("fp16 is not built for OpenVINO: OpenVINO on a CPU has no FP16 artifact here; bf16 is the CPU's reduced "
           "precision (the bf16 row)")


def _reasons(device, variants: str) -> dict[str, str | None]:
    return {r.name: r.reason for r in plan_variants(RunOptions(variants=variants), _MODEL, device)}


@pytest.mark.parametrize("caps", [CAPS_ALL, CAPS_NONE], ids=["native-fp16", "no-fp16"])
def test_on_openvino_the_fp16_rows_say_openvino_builds_no_fp16_and_the_ort_rows_keep_their_text(caps):
    ov = resolve_device("cpu", hardware=_hardware(caps=caps))
    assert ov.runtime.runtime == "openvino"
    reasons = _reasons(ov, "fp32,fp16,pruned30-fp16,fp16+onnxruntime,pruned30-fp16+onnxruntime")
    assert reasons["fp16"] == OV_TEXT and reasons["pruned30-fp16"] == OV_TEXT
    for name in ("fp16+onnxruntime", "pruned30-fp16+onnxruntime"):
        assert reasons[name].startswith(ORT_TEXT) and "OpenVINO" not in reasons[name], reasons[name]


def test_on_onnxruntime_the_fp16_row_keeps_the_cpu_profiles_text():
    ort = resolve_device("cpu", hardware=_hardware(openvino=False))
    reasons = _reasons(ort, "fp32,fp16,bf16")
    assert reasons["fp16"].startswith(ORT_TEXT) and "OpenVINO" not in reasons["fp16"]
    assert reasons["bf16"].startswith("OpenVINO-only here")  # a runtime's own rule is left as it was


def test_docstring_example():
    import doctest

    import harness.plan

    failures, tried = doctest.testmod(harness.plan)
    assert tried > 0 and failures == 0
