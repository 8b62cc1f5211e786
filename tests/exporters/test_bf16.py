"""The bf16 variant: grammar, where it runs (OpenVINO on a CPU with native BF16), its skip reasons, the default list."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from common.errors import InputError
from devices.detect import detect_hardware
from devices.resolve import resolve_device
from devices.runtimes import open_runtime, runtime_info
from devices.runtimes.base import RuntimeStatus
from exporters.kinds import kinds_of
from exporters.kinds.bf16 import KIND as BF16
from exporters.spec import VALID_FORMS, default_variants, parse_variant
from harness.options import RunOptions
from harness.plan import ModelChoice, plan_variants

ORT_REASON = "OpenVINO-only here; onnxruntime has no bf16 inference precision"
NO_NATIVE = "this CPU has no native BF16 (OpenVINO would emulate it)"
CAPS_BF16 = ("BF16", "FP32", "FP16", "INT8")
CAPS_NONE = ("FP32", "INT8")


def _hardware(*, openvino: bool = True, caps: tuple[str, ...] = CAPS_BF16):
    """x86-64 with ONNX Runtime and (optionally) OpenVINO whose CPU reports ``caps`` (a fake capability list)."""
    ov = (RuntimeStatus("openvino", True, "2026.4.1", ("CPU",), "importable", capabilities=caps) if openvino else
          RuntimeStatus("openvino", False, reason="openvino not importable"))
    ort = RuntimeStatus("onnxruntime", True, "1.32.0", ("CPUExecutionProvider",), "importable")
    return detect_hardware(root="/nonexistent", machine="x86_64", runtimes={"openvino": ov, "onnxruntime": ort})


_MODEL = ModelChoice(path=Path("m.pt"), kind="pt", name="m", family="yolo11", imgsz=320, names=("a",),
                     sha256="0" * 64, reference=None)


def _rows(device, variants=None, **kw):
    return {r.name: r for r in plan_variants(RunOptions(variants=variants, **kw), _MODEL, device)}


@pytest.mark.parametrize(("text", "name", "kind", "percent"), [
    ("bf16", "bf16", "plain", None), (" BF16 ", "bf16", "plain", None),
    ("pruned30-bf16", "pruned30-bf16", "pruned", 30), ("Student-BF16", "student-bf16", "student", None)])
def test_grammar_accepts_bf16_alone_and_after_pruned_or_student(text, name, kind, percent):
    spec = parse_variant(text, fmt="openvino")
    assert (spec.name, spec.kind, spec.precision, spec.prune_percent) == (name, kind, "bf16", percent)
    assert spec.base_name == ("fp32" if kind == "plain" else name.removesuffix("-bf16"))
    assert parse_variant(spec.name, fmt="openvino") == spec
    assert {r: k.name for r, k in kinds_of(spec).items()} == {"model": kind, "precision": "bf16", "format": "openvino"}
    assert "bf16" in VALID_FORMS and "student-bf16" in VALID_FORMS
    with pytest.raises(InputError, match="expected a variant name"):
        parse_variant("bf16-int8")


def test_the_artifact_is_the_fp32_onnx_as_is_and_only_openvino_builds_it():
    fp32 = object()
    assert BF16.build(None, fp32) is fp32  # no new file: the FP32 ONNX, run at bf16 by the runtime
    BF16.prepare(SimpleNamespace(spec=parse_variant("bf16", fmt="openvino")))
    for fmt in ("onnx", "trt"):
        with pytest.raises(InputError) as err:
            BF16.prepare(SimpleNamespace(spec=parse_variant("pruned30-bf16", fmt=fmt)))
        assert "\n" not in str(err.value) and f"{fmt} has no bf16 inference precision" in str(err.value)


def test_skip_reasons_follow_the_runtime_and_the_cpu_capabilities():
    native = resolve_device("cpu", hardware=_hardware())
    assert native.runtime.runtime == "openvino" and native.skip_reason("bf16") is None
    assert native.skip_reason("bf16", fmt="onnx") == ORT_REASON  # a row run by ONNX Runtime on the same machine
    emulated = resolve_device("cpu", hardware=_hardware(caps=CAPS_NONE))
    assert emulated.skip_reason("bf16") == NO_NATIVE and emulated.skip_reason("int8") is None
    assert resolve_device("cpu", hardware=_hardware(openvino=False)).skip_reason("bf16") == ORT_REASON
    assert resolve_device("cpu", runtime="onnxruntime", hardware=_hardware()).skip_reason("bf16") == ORT_REASON
    # fp16 keeps the profile's reason, as before
    assert native.skip_reason("fp16").startswith("fp16 is not fast on cpu: ONNX Runtime's CPU execution provider")
    assert runtime_info("tensorrt").precision_reason("bf16") == (
        "OpenVINO-only here; tensorrt has no bf16 inference precision")


def test_every_profile_classifies_bf16_and_an_older_profile_file_still_loads(tmp_path):
    from devices.profiles import list_profiles, load_profile

    for name in list_profiles():
        profile = load_profile(name)
        assert profile.runs_fast("bf16") == (name == "cpu")  # cpu: where OpenVINO runs it natively (runtime rule)
    text = (Path(load_profile("cpu").source).read_text().replace("name: cpu", "name: my-cpu")
            .replace("fast: [fp32, int8, bf16]", "fast: [fp32, int8]"))
    older = tmp_path / "my-cpu.yaml"
    older.write_text(text)  # written before bf16 existed: bf16 in neither list
    assert "does not classify bf16" in load_profile(str(older)).skip_reason("bf16")


def test_default_list_gains_bf16_only_where_the_run_is_on_openvino():
    assert default_variants("openvino") == ("fp32", "fp16", "bf16", "int8", "pruned30")
    assert default_variants("onnx") == default_variants("trt") == ("fp32", "fp16", "int8", "pruned30")
    on_openvino = _rows(resolve_device("cpu", hardware=_hardware()))
    assert list(on_openvino) == ["fp32", "fp16", "bf16", "int8", "pruned30"]
    assert on_openvino["bf16"].reason is None and on_openvino["bf16"].spec.fmt == "openvino"
    assert "bf16" not in _rows(resolve_device("cpu", hardware=_hardware(openvino=False)))
    assert "bf16" not in _rows(resolve_device("cpu", runtime="onnxruntime", hardware=_hardware()))
    assert "bf16" not in _rows(resolve_device("cpu", hardware=_hardware()), format="onnx")
    emulated = _rows(resolve_device("cpu", hardware=_hardware(caps=CAPS_NONE)))
    assert emulated["bf16"].reason.startswith(NO_NATIVE)


def test_asking_for_bf16_elsewhere_is_a_skipped_row_with_the_reason():
    ort = resolve_device("cpu", hardware=_hardware(openvino=False))
    rows = _rows(ort, "fp32,bf16,student-bf16")
    assert rows["bf16"].reason.startswith(ORT_REASON) and rows["fp32"].reason is None
    mixed = _rows(resolve_device("cpu", runtime="onnxruntime", hardware=_hardware()), "bf16+openvino,bf16")
    assert mixed["bf16+openvino"].reason is None and mixed["bf16+openvino"].spec.fmt == "openvino"
    assert mixed["bf16"].reason.startswith(ORT_REASON)


def test_a_runtime_is_never_handed_a_precision_it_does_not_run(tmp_path):
    pytest.importorskip("onnx", reason="onnx builds the tiny model (pip install 'edge-bench[export]')")
    from devices.profiles import load_profile
    from tests.devices.test_runtime_ort import tiny_model

    path = tiny_model(tmp_path / "tiny.onnx")
    with pytest.raises(InputError, match="expected a precision onnxruntime runs \\(fp32, fp16, int8\\), got 'bf16'"):
        open_runtime(path, runtime="onnxruntime", profile=load_profile("cpu"), precision="bf16")


def _native_bf16_or_skip():
    ov = pytest.importorskip("openvino", reason="openvino is not installed (pip install 'edge-bench[openvino]')")
    pytest.importorskip("onnx", reason="onnx builds the tiny model (pip install 'edge-bench[export]')")
    from devices.runtimes.openvino import cpu_capabilities

    if "BF16" not in cpu_capabilities(ov.Core()):
        pytest.skip("this CPU has no native BF16 (OpenVINO's OPTIMIZATION_CAPABILITIES lack it): nothing to open")


def test_a_bf16_job_opens_a_bf16_session_and_says_so(tmp_path):
    _native_bf16_or_skip()
    from devices.job import ArtifactRef, FrameSet, Job
    from devices.profiles import load_profile
    from devices.worker import _open
    from tests.devices.test_runtime_ort import reference, tiny_model

    path = tiny_model(tmp_path / "tiny.onnx")
    job = Job(variant="bf16", precision="bf16", runtime="openvino", device="cpu",
              artifact=ArtifactRef(path.name, "ab" * 32, "onnx"), imgsz=8, nc=None, frames=FrameSet("images", 0, ()),
              threads=1)
    session = _open(job, path, load_profile("cpu"))  # the device worker's own call: the job's precision goes through
    d = session.describe()
    assert (d["runtime"], d["precision"], d["inference_precision"]) == ("openvino", "bf16", "bf16")
    assert "bfloat16" in str(session._compiled.get_property("INFERENCE_PRECISION_HINT")).lower() or \
        str(session._compiled.get_property("INFERENCE_PRECISION_HINT")) == "bf16"
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    out, _ = session.run(x)
    want, _ = reference(x)
    np.testing.assert_allclose(out, want, atol=2e-2)  # bf16 keeps ~3 significant digits: close, not exact
    session.close()
    fp32 = _open(Job(**{**job.__dict__, "variant": "fp32", "precision": "fp32"}), path, load_profile("cpu"))
    assert fp32.describe()["inference_precision"] == "f32"  # the same file as an fp32 row: never bf16
    fp32.close()
