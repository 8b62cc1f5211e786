"""`bench export` then `bench run` share one artifact cache: the run builds nothing the export built.

Without ``--format``, ``bench export`` builds what a default ``bench run`` here loads (OpenVINO's NNCF IR
for int8 on an x86-64 CPU with OpenVINO, else ONNX Runtime's QDQ ONNX), so the default run reuses it.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from exporters.cli import default_format
from harness.cli import main
from tests.exporters.conftest import IMGSZ


def _cache_files(root):
    """Every file under the artifact cache with its size and modification time (a rebuild changes them)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _on(runtime):
    return SimpleNamespace(runtime=SimpleNamespace(runtime=runtime))


@pytest.mark.parametrize(("variant", "runtime", "fmt", "why"), [
    ("int8", "openvino", "openvino", "bench run's default runtime here: openvino"),
    ("pruned30-int8", "onnxruntime", "onnx", "bench run's default runtime here: onnxruntime"),
    ("int8", "tensorrt", "trt", "bench run's default runtime here: tensorrt"),
    ("fp16", "openvino", "onnx", "openvino builds no fp16 (bench run's default runtime here: openvino)"),
    ("student-bf16", "onnxruntime", "openvino", "onnx builds no bf16 (bench run's default runtime here: onnxruntime)"),
])
def test_default_format_is_what_the_default_run_loads(variant, runtime, fmt, why):
    assert default_format(variant, device=_on(runtime)) == (fmt, why)


def test_default_format_without_a_usable_device_is_onnx(monkeypatch):
    from common.errors import InputError

    def unusable(name, **kw):
        raise InputError("--device auto: no usable device profile (cpu: needs x86_64 or aarch64, this machine is riscv64)")

    monkeypatch.setattr("devices.resolve.resolve_device", unusable)
    fmt, why = default_format("int8")
    assert fmt == "onnx" and why.startswith("no device profile is usable here (no usable device profile (cpu: needs")


def test_the_summary_line_names_the_format_it_chose(capsys, yolo11_pt, fp32_artifact, session_cache):
    from devices.resolve import resolve_device
    from devices.runtimes import runtime_info

    runtime = resolve_device("auto").runtime.runtime
    assert main(["export", "--model", str(yolo11_pt), "--variant", "fp32", "--imgsz", str(IMGSZ),
                 "--cache", str(session_cache)]) == 0
    path, summary = capsys.readouterr().out.splitlines()
    assert path == str(fp32_artifact.path)  # fp32 is the FP32 ONNX in either format: the cached one
    fmt = runtime_info(runtime).build_format
    assert summary.startswith(f"fp32 ({fmt}; bench run's default runtime here: {runtime}) {IMGSZ}px:")
    assert main(["export", "--model", str(yolo11_pt), "--variant", "fp32", "--format", "ONNX", "--imgsz", str(IMGSZ),
                 "--cache", str(session_cache)]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith(f"fp32 (onnx) {IMGSZ}px:")  # asked for: no reason


@pytest.mark.slow
def test_run_reuses_what_export_built(tmp_path, monkeypatch, capsys, yolo11_pt, data_yaml):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    from common.paths import artifacts_dir
    from devices.resolve import resolve_device

    runtime = resolve_device("auto").runtime.runtime  # what the default run below uses
    assert main(["export", "--model", str(yolo11_pt), "--variant", "int8", "--data", str(data_yaml),
                 "--calib-images", "6"]) == 0
    exported, summary = capsys.readouterr().out.splitlines()  # stdout: the path and one summary line, nothing else
    root = artifacts_dir()
    assert exported.startswith(str(root))  # the export wrote into the shared cache root
    assert f"bench run's default runtime here: {runtime}" in summary
    before = _cache_files(root)
    int8_name = "int8-openvino-64.xml" if runtime == "openvino" else "int8-64.onnx"
    assert exported.endswith(int8_name) and any(name.endswith("fp32-64.onnx") for name in before)

    # the default runtime (no --runtime): on x86-64 with OpenVINO, the NNCF IR bench export just built
    code = main(["run", "--model", str(yolo11_pt), "--variants", "int8",
                 "--data", str(data_yaml), "--split", "val",
                 "--calib-images", "6", "--limit", "2", "--min-iters", "2", "--min-seconds", "0.05",
                 "--warmup-max-s", "0.1", "--bootstrap", "0", "--no-archive", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    record = json.loads(out)
    rows = {v["name"]: v for v in record["variants"]}
    assert rows["int8"]["status"] == "ok" and rows["fp32"]["status"] == "ok", err[-2000:]
    assert rows["int8"]["extra"]["runtime"]["runtime"] == runtime
    # nothing was built again: the same files, untouched (no new artifact, manifest or temporary)
    assert _cache_files(root) == before
