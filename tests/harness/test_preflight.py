"""Pre-flight of `bench run` (issue #16 classes 2, 5, 7): what can only fail fails before the first variant, as one
line and exit 2, with nothing archived; a model with spaces or accents in its name runs and is archived."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.options import MAX_THREADS_PER_CPU
from harness.preflight import expected_anchors, safe_name

NC = 2


def tiny_onnx(path: Path, side: int = 32, anchors: int | None = None, nc: int = NC) -> Path:
    """A valid detection-shaped ONNX: input 1x3xSxS, output 1x(4+nc)xA (one confident box, the rest empty)."""
    onnx = pytest.importorskip("onnx", reason="building the test model needs onnx (the export extra)")
    from onnx import TensorProto, helper, numpy_helper

    anchors = expected_anchors(side) if anchors is None else anchors
    head = np.zeros((1, 4 + nc, anchors), np.float32)
    head[0, :5, 0] = [side / 2, side / 2, side / 4, side / 4, 0.9]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),  # ties the output to the input
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["head", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc, anchors])],
        initializer=[numpy_helper.from_array(head, "head"), numpy_helper.from_array(np.zeros((), np.float32), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": str({i: f"c{i}" for i in range(nc)}), "task": "detect"})
    onnx.save(model, str(path))
    return path


def _run(capsys, *argv):
    code = main(["run", *map(str, argv)])
    return code, [ln for ln in capsys.readouterr().err.strip().splitlines() if not ln.startswith("bench: [")]  # no progress


@pytest.fixture
def images(tmp_path):
    from harness.data.synth import write_dataset

    write_dataset(tmp_path / "d", n_train=0, n_val=2)
    return tmp_path / "d" / "images" / "val"


@pytest.mark.parametrize("argv, needle", [
    (["--timeout", "0"], "--timeout: expected seconds > 0, got 0.0"),
    (["--timeout", "nan"], "--timeout: expected seconds > 0"),
    (["--threads", "10000"], f"--threads: expected a thread count in 1..{MAX_THREADS_PER_CPU * (os.cpu_count() or 1)}"),
    (["--threads", "0"], "--threads: expected a thread count in 1.."),
    (["--min-seconds", "-1"], "--min-seconds: expected seconds >= 0"),
])
def test_bad_options_fail_before_anything(tmp_path, capsys, argv, needle):
    code, err = _run(capsys, *argv, "--archive", tmp_path / "arch")
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "arch").exists()


def test_cache_that_is_a_file(tmp_path, capsys, monkeypatch, images):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").write_text("not a folder")
    code, err = _run(capsys, "--images", images, "--archive", tmp_path / "arch")
    assert code == 2 and err == [f"bench: error: BENCH_CACHE: expected a folder for the cache, got {tmp_path / 'cache'} "
                                 "is a file"]
    assert not (tmp_path / "arch").exists()


@pytest.mark.parametrize("target", ["file", "parent file"])
def test_archive_and_out_that_are_files(tmp_path, capsys, monkeypatch, images, target):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    path = blocker if target == "file" else blocker / "sub"
    code, err = _run(capsys, "--images", images, "--archive", path)
    assert code == 2 and len(err) == 1 and "expected an archive folder" in err[0] and "is a file" in err[0], err
    code, err = _run(capsys, "--images", images, "--no-archive", "--out", path)
    assert code == 2 and len(err) == 1 and f"--out {path}: expected a folder for the per-frame outputs" in err[0], err
    assert blocker.read_text() == "x"


def test_read_only_archive(tmp_path, capsys, monkeypatch, images):
    """A real read-only filesystem (tmpfs mounted ro) when this test may mount, else a read-only folder."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
                             capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    try:
        if not mounted:
            ro.chmod(0o555)
            if os.access(ro, os.W_OK):
                pytest.skip("cannot make a read-only folder here (root without mount permission)")
        code, err = _run(capsys, "--images", images, "--archive", ro / "archive")
        assert code == 2 and len(err) == 1 and "expected a writable archive folder" in err[0] and str(ro) in err[0], err
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)
        ro.chmod(0o755)


@pytest.mark.parametrize("side, anchors, needle", [
    (100, None, "expected a model input side that is a multiple of 32 and at least 32"),
    (64, 999, f"output: expected a detection output 1x{4 + NC}x{expected_anchors(64)}"),
])
def test_onnx_input_and_output_are_checked_before_any_worker(tmp_path, capsys, monkeypatch, images, side, anchors,
                                                             needle):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    model = tiny_onnx(tmp_path / "odd.onnx", side=side, anchors=anchors or expected_anchors(side))
    code, err = _run(capsys, "--model", model, "--images", images, "--archive", tmp_path / "arch")
    assert code == 2 and len(err) == 1 and needle in err[0] and str(model) in err[0], err
    assert "--imgsz" not in err[0]  # an option bench run does not have
    assert not (tmp_path / "arch").exists() and not list(tmp_path.glob("bench-run-*"))


def test_safe_names():
    assert safe_name("my model") == "my_model" and safe_name("modèle") == "modele"
    assert safe_name("yolo11n-pruned30") == "yolo11n-pruned30" and safe_name("..") == "model"
    assert safe_name("日本") == "model" and safe_name("a" * 300) == "a" * 100


def test_every_row_failing_on_the_same_input_error_is_exit_2_and_archives_nothing(tmp_path, capsys, monkeypatch,
                                                                                 images):
    """An input error found inside the workers (an image that becomes unreadable after the data was loaded)."""
    import harness.plan

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    model = tiny_onnx(tmp_path / "m.onnx")
    real = harness.plan.load_data

    def load_then_break(opts, m):
        data = real(opts, m)
        Path(data.image_paths[0]).write_bytes(b"not an image any more")
        return data

    monkeypatch.setattr(harness.plan, "load_data", load_then_break)
    monkeypatch.setattr("harness.runloop.load_data", load_then_break)
    code, err = _run(capsys, "--model", model, "--images", images, "--archive", tmp_path / "arch", "--min-iters", 1,
                     "--min-seconds", 0, "--warmup-max-s", 0, "--json")  # --json: no progress lines on stderr
    assert code == 2 and len(err) == 1, err
    # fp32: the broken image; int8: no calibration data for an ONNX model; the rest skipped
    assert err[0].startswith(f"bench: error: {images / 'val_00000.jpg'}: expected an image OpenCV can decode, got "
                             "unreadable file (and 1 more row failed on bad input: int8)"), err
    assert not list((tmp_path / "arch").rglob("*.json"))
    from harness.data.synth import write_dataset

    write_dataset(tmp_path / "d2", n_train=0, n_val=2)  # intact again (the loader would refuse the broken one)
    images = tmp_path / "d2" / "images" / "val"
    code, err = _run(capsys, "--model", model, "--images", images, "--archive", tmp_path / "arch", "--min-iters", 1,
                     "--min-seconds", 0, "--warmup-max-s", 0, "--variants", "fp32", "--json")
    assert code == 2 and err == [f"bench: error: {images / 'val_00000.jpg'}: expected an image OpenCV can decode, "
                                 "got unreadable file"], err
    assert not list((tmp_path / "arch").rglob("*.json"))


@pytest.mark.slow
def test_model_with_spaces_and_accents_runs_and_is_archived_under_a_safe_name(tmp_path, capsys, monkeypatch, images):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    model = tiny_onnx(tmp_path / "my modèle.onnx")
    code = main(["run", "--model", str(model), "--images", str(images), "--archive", str(tmp_path / "arch"),
                 "--min-iters", "2", "--min-seconds", "0", "--warmup-max-s", "0", "--release", "r1", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    records = list((tmp_path / "arch").rglob("*.json"))
    assert len(records) == 1 and records[0].parent.name == "my_modele"
    record = json.loads(records[0].read_text())
    assert record["model"]["name"] == "my_modele" and record["model"]["path"].endswith("my modèle.onnx")
    assert record["variants"][0]["status"] == "ok", record["variants"][0]["reason"]


@pytest.mark.slow
def test_a_record_that_cannot_be_archived_is_kept_and_the_line_says_where(tmp_path, capsys, monkeypatch, images):
    """The archive passes the pre-flight, then saving fails (here: a full disk, simulated at save)."""
    import results.archive

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    model = tiny_onnx(tmp_path / "m.onnx")

    def full_disk(self, record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.archive.Archive, "save", full_disk)
    code, err = _run(capsys, "--model", model, "--images", images, "--min-iters", 2, "--min-seconds", 0,
                     "--warmup-max-s", 0, "--json")
    assert code == 2 and len(err) == 1 and "No space left on device" in err[0], err
    kept = list(tmp_path.glob("bench-record-*.json"))
    assert len(kept) == 1 and f"the record was kept in {kept[0]}" in err[0]
    assert json.loads(kept[0].read_text())["model"]["name"] == "m"
