"""build_variant: cache reuse and rebuild, atomic artifacts, and the input checks of each variant kind."""

from __future__ import annotations

import os

import onnx
import pytest

from exporters import onnx_export
from exporters.build import build_variant
from exporters.manifest import manifest_path, sha256_file
from exporters.spec import parse_variant
from common.errors import InputError
from tests.exporters.conftest import IMGSZ


@pytest.fixture
def onnx_source(fp32_artifact, tmp_path):
    """A user-supplied FP32 ONNX (a copy of the session export): cheap to derive fp16 from."""
    path = tmp_path / "user-model.onnx"
    path.write_bytes(fp32_artifact.path.read_bytes())
    return path


def _fp16(source, cache):
    return build_variant(source, parse_variant("fp16"), cache_dir=cache, imgsz=IMGSZ)


def test_unchanged_inputs_reuse_the_artifact(onnx_source, tmp_path):
    cache = tmp_path / "cache"
    first = _fp16(onnx_source, cache)
    stamp = first.path.stat().st_mtime_ns
    second = _fp16(onnx_source, cache)
    assert not first.reused and second.reused
    assert second.path == first.path and second.path.stat().st_mtime_ns == stamp
    assert second.manifest == first.manifest
    assert first.path.name == "fp16-64.onnx" and first.path.parent.name.startswith("user-model-")
    assert manifest_path(first.path).is_file()


def test_changed_source_rebuilds(onnx_source, tmp_path):
    cache = tmp_path / "cache"
    first = _fp16(onnx_source, cache)
    model = onnx.load(str(onnx_source))
    model.metadata_props.add(key="retrained", value="yes")
    onnx.save(model, str(onnx_source))
    second = _fp16(onnx_source, cache)
    assert not second.reused and second.path != first.path  # a new source hash, a new directory
    assert second.manifest["source"]["sha256"] == sha256_file(onnx_source)


def test_changed_tool_version_rebuilds(onnx_source, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = _fp16(onnx_source, cache)
    from exporters.kinds import fp16

    real = fp16.tool_versions
    monkeypatch.setattr(fp16, "tool_versions", lambda names=None: {**real(names), "onnxruntime": "99.0"})
    second = _fp16(onnx_source, cache)
    assert not second.reused and second.path == first.path
    assert second.manifest["cache_key"] != first.manifest["cache_key"]


def test_tampered_or_half_written_artifacts_are_rebuilt(onnx_source, tmp_path):
    cache = tmp_path / "cache"
    first = _fp16(onnx_source, cache)
    good = first.path.read_bytes()
    first.path.write_bytes(good[: len(good) // 2])  # truncated after the fact
    again = _fp16(onnx_source, cache)
    assert not again.reused and again.path.read_bytes() == good
    os.remove(manifest_path(first.path))  # an artifact whose manifest was never written
    third = _fp16(onnx_source, cache)
    assert not third.reused and manifest_path(third.path).is_file()


def test_crash_during_build_leaves_nothing(onnx_source, tmp_path, monkeypatch):
    cache = tmp_path / "cache"

    def crash(fp32_path, out):
        out.write_bytes(b"half an onnx file")
        raise KeyboardInterrupt  # the user pressed Ctrl-C mid-write

    monkeypatch.setattr(onnx_export, "convert_fp16", crash)
    with pytest.raises(KeyboardInterrupt):
        _fp16(onnx_source, cache)
    [directory] = cache.iterdir()
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["fp32-64.onnx", "fp32-64.onnx.manifest.json"]  # the finished parent stage only
    monkeypatch.undo()
    assert not _fp16(onnx_source, cache).reused


def test_onnx_source_limits(onnx_source, tmp_path):
    with pytest.raises(InputError, match="expected a PyTorch .pt source for the pruned30 variant"):
        build_variant(onnx_source, parse_variant("pruned30"), cache_dir=tmp_path, imgsz=IMGSZ)
    with pytest.raises(InputError, match="--imgsz: expected --imgsz 64 \\(the ONNX input is fixed\\), got 320"):
        build_variant(onnx_source, parse_variant("fp32"), cache_dir=tmp_path, imgsz=320)
    with pytest.raises(InputError, match="multiple of 32"):
        build_variant(onnx_source, parse_variant("fp32"), cache_dir=tmp_path, imgsz=100)
    with pytest.raises(InputError, match="whose train images calibrate INT8"):
        build_variant(onnx_source, parse_variant("int8"), cache_dir=tmp_path, imgsz=IMGSZ)
    assert not any(tmp_path.glob("*/*.onnx"))


@pytest.mark.slow
def test_int8_is_reused_with_the_same_calibration(int8_artifact, yolo11_pt, session_cache, data_yaml):
    again = build_variant(yolo11_pt, "int8", cache_dir=session_cache, imgsz=IMGSZ, data_yaml=data_yaml, calib_images=6)
    assert again.reused and again.path == int8_artifact.path


@pytest.mark.slow
def test_pruned_variant_from_a_pruned_checkpoint(pruned_pt, yolo11_pt, fp32_artifact, session_cache):
    art = build_variant(yolo11_pt, parse_variant("pruned30"), cache_dir=session_cache, imgsz=IMGSZ,
                        options={"pruned_source": pruned_pt})
    m = art.manifest
    assert art.path.name == "pruned30-64.onnx" and m["pruning"]["ratio"] == 0.3
    assert m["model"]["file"] == pruned_pt.name and m["source"]["file"] == yolo11_pt.name
    assert m["params"] < 0.8 * fp32_artifact.manifest["params"]
    assert m["gflops"] < 0.8 * fp32_artifact.manifest["gflops"]
    assert m["output"]["shape"] == fp32_artifact.manifest["output"]["shape"]


def test_pruned_source_must_match(pruned_pt, yolo11_pt, yolo12_pt, tmp_path):
    with pytest.raises(InputError, match="expected a checkpoint pruned by 0.5, got 0.3"):
        build_variant(yolo11_pt, parse_variant("pruned50"), cache_dir=tmp_path, imgsz=IMGSZ, options={"pruned_source": pruned_pt})
    with pytest.raises(InputError, match="expected a checkpoint pruned from yolo12n-random.pt"):
        build_variant(yolo12_pt, parse_variant("pruned30"), cache_dir=tmp_path, imgsz=IMGSZ, options={"pruned_source": pruned_pt})
    with pytest.raises(InputError, match="expected a pruned .pt made by bench"):
        build_variant(yolo11_pt, parse_variant("pruned30"), cache_dir=tmp_path, imgsz=IMGSZ, options={"pruned_source": yolo12_pt})
    with pytest.raises(InputError, match="whose train images fine-tune the pruned model"):
        build_variant(yolo11_pt, parse_variant("pruned40"), cache_dir=tmp_path, imgsz=IMGSZ)


def test_student_needs_a_checkpoint(yolo11_pt, tmp_path):
    with pytest.raises(InputError, match="the student variant needs a distilled student checkpoint"):
        build_variant(yolo11_pt, parse_variant("student-int8"), cache_dir=tmp_path, imgsz=IMGSZ)


@pytest.mark.slow
def test_student_variant_exports_the_student(yolo11_pt, yolo12_pt, session_cache):
    art = build_variant(yolo11_pt, parse_variant("student"), cache_dir=session_cache, imgsz=IMGSZ,
                        options={"student_source": yolo12_pt})
    assert art.path.name == "student-64.onnx"
    assert art.manifest["model"]["family"] == "yolo12" and art.manifest["source"]["family"] == "yolo11"


@pytest.mark.slow
def test_matching_pruned_checkpoint_beside_the_source_is_used(pruned_pt, yolo11_pt, session_cache, tmp_path):
    import shutil

    source = tmp_path / yolo11_pt.name  # same name and bytes: the session's cached export is reused
    shutil.copyfile(yolo11_pt, source)
    beside = tmp_path / f"{source.stem}-pruned30.pt"  # the shipped layout
    shutil.copyfile(pruned_pt, beside)
    art = build_variant(source, parse_variant("pruned30"), cache_dir=session_cache, imgsz=IMGSZ)  # no --data needed
    assert art.manifest["model"]["file"] == beside.name and art.manifest["pruning"]["ratio"] == 0.3
    shutil.copyfile(pruned_pt, tmp_path / f"{source.stem}-pruned50.pt")  # wrong ratio: ignored, so pruning needs data
    with pytest.raises(InputError, match="whose train images fine-tune the pruned model"):
        build_variant(source, parse_variant("pruned50"), cache_dir=session_cache, imgsz=IMGSZ)
