"""`bench export` then `bench run` share one artifact cache: the run builds nothing the export built."""

from __future__ import annotations

import json

import pytest

from harness.cli import main


def _cache_files(root):
    """Every file under the artifact cache with its size and modification time (a rebuild changes them)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_run_reuses_what_export_built(tmp_path, monkeypatch, capsys, yolo11_pt, data_yaml):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    from common.paths import artifacts_dir

    assert main(["export", "--model", str(yolo11_pt), "--variant", "int8", "--data", str(data_yaml),
                 "--calib-images", "6"]) == 0
    exported, summary = capsys.readouterr().out.splitlines()  # stdout: the path and one summary line, nothing else
    root = artifacts_dir()
    assert exported.startswith(str(root))  # the export wrote into the shared cache root
    before = _cache_files(root)
    assert any(name.endswith("int8-64.onnx") for name in before) and any(name.endswith("fp32-64.onnx") for name in before)

    # --runtime onnxruntime: the format bench export builds by default (where openvino is installed the cpu
    # profile runs OpenVINO, whose INT8 is another artifact: bench export --format openvino pre-builds that one)
    code = main(["run", "--model", str(yolo11_pt), "--variants", "int8", "--runtime", "onnxruntime",
                 "--data", str(data_yaml), "--split", "val",
                 "--calib-images", "6", "--limit", "2", "--min-iters", "2", "--min-seconds", "0.05",
                 "--warmup-max-s", "0.1", "--bootstrap", "0", "--no-archive", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    record = json.loads(out)
    rows = {v["name"]: v for v in record["variants"]}
    assert rows["int8"]["status"] == "ok" and rows["fp32"]["status"] == "ok", err[-2000:]
    # nothing was built again: the same files, untouched (no new artifact, manifest or temporary)
    assert _cache_files(root) == before
