"""A skipped row says "--force runs it anyway" only where forcing really runs it (not bf16 outside OpenVINO)."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import BenchError
from devices.detect import detect_hardware
from devices.resolve import resolve_device
from devices.runtimes.base import RuntimeStatus
from harness.options import RunOptions
from harness.plan import ModelChoice, plan_variants

SUFFIX = " (--force runs it anyway)"
CAPS_ALL = ("BF16", "FP32", "FP16", "INT8")
CAPS_NONE = ("FP32", "INT8")
_MODEL = ModelChoice(path=Path("m.pt"), kind="pt", name="m", family="yolo11", imgsz=320, names=("a",),
                     sha256="0" * 64, reference=None)


def _hardware(*, openvino: bool = True, caps: tuple[str, ...] = CAPS_ALL):
    """x86-64 with ONNX Runtime and (optionally) OpenVINO whose CPU reports ``caps`` (a fake capability list)."""
    ov = (RuntimeStatus("openvino", True, "2026.4.1", ("CPU",), "importable", capabilities=caps) if openvino else
          RuntimeStatus("openvino", False, reason="openvino not importable"))
    ort = RuntimeStatus("onnxruntime", True, "1.32.0", ("CPUExecutionProvider",), "importable")
    return detect_hardware(root="/nonexistent", machine="x86_64", runtimes={"openvino": ov, "onnxruntime": ort})


def _reasons(device, variants: str, **kw) -> dict[str, str | None]:
    return {r.name: r.reason for r in plan_variants(RunOptions(variants=variants, **kw), _MODEL, device)}


def test_fp16_on_onnxruntime_says_force_runs_it_and_bf16_does_not():
    ort = resolve_device("cpu", hardware=_hardware(openvino=False))
    reasons = _reasons(ort, "fp32,fp16,bf16,pruned30-bf16,pruned30-fp16")
    assert reasons["fp16"].startswith("fp16 is not fast on cpu") and reasons["fp16"].endswith(SUFFIX)
    assert reasons["pruned30-fp16"].endswith(SUFFIX)
    for name in ("bf16", "pruned30-bf16"):  # forcing would hand ONNX Runtime a precision it has not: a failed row
        assert reasons[name].startswith("OpenVINO-only here") and "--force" not in reasons[name], reasons[name]
    assert reasons["fp32"] is None


def test_a_row_on_another_runtime_follows_that_runtimes_rule():
    ov = resolve_device("cpu", hardware=_hardware())
    reasons = _reasons(ov, "fp32,bf16,bf16+onnxruntime,fp16+onnxruntime")
    assert reasons["bf16"] is None
    assert "--force" not in reasons["bf16+onnxruntime"] and reasons["bf16+onnxruntime"].startswith("OpenVINO-only")
    assert reasons["fp16+onnxruntime"].endswith(SUFFIX)


def test_a_precision_the_cpu_lacks_natively_is_not_promised_to_force():
    emulated = resolve_device("cpu", hardware=_hardware(caps=CAPS_NONE))
    reasons = _reasons(emulated, "fp32,fp16,bf16")
    assert reasons["bf16"].startswith("this CPU has no native BF16") and "--force" not in reasons["bf16"]
    # fp16 is slow by the cpu profile's rule, and OpenVINO would refuse it without native FP16: no promise either
    assert reasons["fp16"].startswith("fp16 is not built for OpenVINO") and "--force" not in reasons["fp16"]
    native = resolve_device("cpu", hardware=_hardware(caps=CAPS_ALL))
    assert native.force_runs("fp16") and native.force_runs("bf16")
    reasons = _reasons(native, "fp32,fp16,fp16+onnxruntime")
    # OpenVINO's format builds no fp16 artifact (a forced fp16 row there fails): no promise; ONNX Runtime's does
    assert reasons["fp16"].startswith("fp16 is not built for OpenVINO") and "--force" not in reasons["fp16"]
    assert reasons["fp16+onnxruntime"].endswith(SUFFIX)


def test_with_force_the_rows_have_no_skip_reason():
    ort = resolve_device("cpu", hardware=_hardware(openvino=False))
    assert set(_reasons(ort, "fp32,fp16,bf16", force=True).values()) == {None}


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_the_promise_matches_what_the_runtime_opens_here(tmp_path, runtime, precision):
    """On this machine's real runtimes: force_runs is True exactly where the runtime opens the precision."""
    pytest.importorskip("onnx", reason="onnx builds the tiny model (pip install 'edge-bench[export]')")
    from devices.profiles import load_profile
    from devices.runtimes import open_runtime
    from devices.smoke import build_tiny_onnx

    hardware = detect_hardware()
    if not hardware.runtimes[runtime].available:
        pytest.skip(f"{runtime} is not installed here: {hardware.runtimes[runtime].reason}")
    device = resolve_device("cpu", runtime=runtime, hardware=hardware)
    tiny = build_tiny_onnx(tmp_path / "tiny.onnx")
    try:
        open_runtime(tiny, runtime=runtime, profile=load_profile("cpu"), precision=precision).close()
        opened = True
    except BenchError:
        opened = False
    assert device.force_runs(precision) is opened
