"""Class 6 and 8: what used to be a traceback with exit 1 (or a wrong refusal) is one line, exit 2
(or is accepted). Each case runs the real ``bench`` command as a subprocess."""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import bench, bench_env, one_line_error

RECORD = json.loads((Path(__file__).parents[1] / "results" / "data" / "record_v2.json").read_text())


def archived(root: Path, record: dict, run_id: str | None = None) -> Path:
    record = copy.deepcopy(record)
    record["run_id"] = run_id or record["run_id"]
    path = root / record["release"] / record["device"]["profile"] / record["model"]["name"] / f"{record['run_id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def nested_json(path: Path, depth: int = 100_000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[" * depth + "]" * depth)
    return path


def test_deeply_nested_json_in_the_archive(tmp_path):
    good = archived(tmp_path, RECORD)
    nested = nested_json(good.parent / (RECORD["run_id"][:-6] + "000000.json"))
    done = bench("history", "--archive", str(tmp_path))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert str(nested) in done.stderr and "nested too deeply" in done.stderr  # skipped by name
    assert RECORD["run_id"] in done.stdout
    line = one_line_error(bench("compare", str(nested), str(good), "--archive", str(tmp_path)))
    assert str(nested) in line and "nested too deeply" in line
    line = one_line_error(bench("eval", "--gt", str(nested), "--pred", str(good)))
    assert str(nested) in line and "nested" in line


@pytest.mark.parametrize("fps", [0, -3.5])
def test_a_record_with_fps_zero_or_negative_is_refused_not_divided_by(tmp_path, fps):
    base = archived(tmp_path, RECORD)
    bad = copy.deepcopy(RECORD)
    for v in bad["variants"]:
        if v.get("timing"):
            v["timing"]["fps"] = fps
    cand = archived(tmp_path, bad, run_id=RECORD["run_id"][:-6] + "abcdef")
    for args in (("compare", str(base), str(cand)), ("compare", str(cand), str(base)),
                 ("report", str(cand), "--out", str(tmp_path / "rep"))):
        line = one_line_error(bench(*args, "--archive", str(tmp_path)))
        assert "timing.fps: expected a number > 0 or null (not measured)" in line


def test_nan_in_a_record_is_refused(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(RECORD).replace('"fps": ', '"fps": NaN, "x": ', 1))
    line = one_line_error(bench("report", str(path), "--out", str(tmp_path / "rep")))
    assert str(path) in line and "finite numbers" in line


def test_coco_json_with_a_4300_digit_integer(tmp_path):
    gt = tmp_path / "gt.json"
    gt.write_text('{"images": [{"id": %s}], "categories": [{"id": 1}], "annotations": []}' % ("9" * 4400))
    pred = tmp_path / "pred.json"
    pred.write_text("[]")
    line = one_line_error(bench("eval", "--gt", str(gt), "--pred", str(pred)))
    assert str(gt) in line and "4300" in line


def test_a_missing_record_file_is_no_such_file(tmp_path):
    good = archived(tmp_path, RECORD)
    missing = tmp_path / "typo.json"
    for args in (("compare", str(missing), str(good)), ("report", str(missing), "--out", str(tmp_path / "r"))):
        line = one_line_error(bench(*args, "--archive", str(tmp_path)))
        assert f"{missing}: expected an existing record file, got no such file" in line


def test_devices_root_that_does_not_exist(tmp_path):
    line = one_line_error(bench("devices", "--root", str(tmp_path / "no" / "such" / "dir")))
    assert "--root" in line and "no such folder" in line


@pytest.mark.parametrize("command", ["compare", "history"])
def test_output_into_a_closed_pipe_is_141_and_quiet(tmp_path, command):
    base = archived(tmp_path, RECORD)
    cand = archived(tmp_path, RECORD, run_id=RECORD["run_id"][:-6] + "abcdef")
    args = ("compare", str(base), str(cand)) if command == "compare" else ("history",)
    read_end, write_end = os.pipe()
    os.close(read_end)  # `bench compare ... | head` once head has exited: every write gets EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "harness", *args, "--archive", str(tmp_path)],
                              stdout=write_end, stderr=subprocess.PIPE, env=bench_env(), timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 141, (done.returncode, done.stderr[-2000:])
    assert done.stderr == b""


@pytest.mark.slow
def test_export_out_at_a_file_and_bench_cache_as_a_file(tmp_path):
    pytest.importorskip("ultralytics", reason="bench export needs the export extra")
    model = Path(__file__).parents[2] / "harness" / "reference" / "models" / "yolo11n.pt"
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    line = one_line_error(bench("export", "--model", str(model), "--variant", "fp32", "--out", str(a_file), timeout=600))
    assert f"{a_file}: expected a folder, got a file" in line
    line = one_line_error(bench("export", "--model", str(model), "--variant", "fp32", timeout=600, BENCH_CACHE=str(a_file)))
    assert f"{a_file}: expected a folder, got a file" in line
    assert a_file.read_text() == "x"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 43, 45, 102])  # unpickler errors: Unpickling, Overflow, Value, UnicodeDecode
def test_bench_run_on_4kb_of_random_bytes_as_a_model(tmp_path, seed):
    pytest.importorskip("ultralytics", reason="bench run on a .pt needs the export extra")
    model = tmp_path / "garbage.pt"
    model.write_bytes(random.Random(seed).randbytes(4096))
    line = one_line_error(bench("run", "--model", str(model), "--no-archive", timeout=600, cwd=tmp_path))
    assert f"{model}: expected an Ultralytics .pt checkpoint, got an unreadable file" in line


def test_a_bug_is_exit_3_with_its_traceback_never_1(monkeypatch, capsys, tmp_path):
    import results.cli
    from harness.cli import main

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(results.cli, "run_history", boom)
    assert main(["history", "--archive", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("bench: internal error (a bug in bench")
