"""Class 1: regenerating data never destroys the old data (real SIGKILL, real full disk)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.errors import InputError
from harness.data import swap
from harness.data.synth import write_dataset
from tests.reliability.conftest import bench, bench_env, one_line_error


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden_siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def test_a_regeneration_killed_after_its_first_image_leaves_the_old_dataset_whole(tmp_path):
    out = tmp_path / "d"
    write_dataset(out, seed=1, n_train=2, n_val=3)
    before = snapshot(out)
    proc = subprocess.Popen([sys.executable, "-m", "harness", "data", "synth", "--out", str(out), "--seed", "2",
                             "--n-train", "400", "--n-val", "5"], env=bench_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not list(tmp_path.glob(".d.bench-new-*/images/train/*.jpg")):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the regeneration wrote no image in 120 s"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(out) == before  # every old file, byte for byte, and nothing new
    assert json.loads((out / "synth.json").read_text())["seed"] == 1
    assert hidden_siblings(out)  # the killed build is still there ...

    # ... until the next regeneration, which also leaves no stale images when asked for fewer
    summary = write_dataset(out, seed=2, n_train=1, n_val=2)
    assert summary["seed"] == 2 and hidden_siblings(out) == []
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == ["val_00000.jpg", "val_00001.jpg"]
    assert sorted(p.name for p in (out / "labels" / "val").iterdir()) == ["val_00000.txt", "val_00001.txt"]
    assert len(list((out / "images" / "train").iterdir())) == 1


def test_without_an_atomic_exchange_a_kill_between_the_two_renames_is_recovered(tmp_path, monkeypatch):
    out = tmp_path / "d"
    write_dataset(out, seed=1, n_train=1, n_val=2)
    before = snapshot(out)
    # the state a kill between 'rename old away' and 'rename new in' leaves behind
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # the pid of a process that has exited
    out.rename(tmp_path / f".d.bench-old-{dead}-x1")
    (tmp_path / f".d.bench-new-{dead}-x2" / "images").mkdir(parents=True)
    busy = tmp_path / f".d.bench-new-{os.getppid()}-x3"  # another regeneration still running: kept
    busy.mkdir()
    swap.recover(out)
    assert snapshot(out) == before and hidden_siblings(out) == [busy.name]
    busy.rmdir()
    monkeypatch.setattr(swap, "_exchange", lambda a, b: False)  # e.g. a file system without RENAME_EXCHANGE
    write_dataset(out, seed=3, n_train=1, n_val=1)
    assert json.loads((out / "synth.json").read_text())["seed"] == 3 and hidden_siblings(out) == []
    assert len(list((out / "images" / "val").iterdir())) == 1


def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("do not delete")
    with pytest.raises(InputError, match=r"mine: expected an empty folder or one written by bench .*thesis\.tex"):
        write_dataset(out, n_train=1, n_val=1)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"] and hidden_siblings(out) == []


def test_on_a_full_disk_synth_is_one_line_and_the_old_dataset_stays(small_tmpfs):
    disk = small_tmpfs("256k")
    out = disk / "d"
    write_dataset(out, seed=1, n_train=1, n_val=1)
    before = snapshot(out)
    line = one_line_error(bench("data", "synth", "--out", str(out), "--seed", "2", "--n-train", "60", "--n-val", "1"))
    assert "expected free space to write" in line and str(out) in line
    assert snapshot(out) == before and hidden_siblings(out) == []


def test_on_a_full_disk_video_is_one_line_and_the_old_clip_stays(small_tmpfs):
    from harness.data.video import write_synth_video

    disk = small_tmpfs("160k")
    out = disk / "v"
    write_synth_video(out, seed=1, n_frames=2)
    before = snapshot(out)
    done = bench("data", "video", "--out", str(out), "--seed", "2", "--frames", "150")
    line = one_line_error(done)
    assert str(out) in line and ("free space" in line or "read back" in line)
    assert "WARN" not in done.stderr  # OpenCV's per-frame warnings are silenced
    assert snapshot(out) == before and hidden_siblings(out) == []


def test_video_regeneration_swaps_the_clip_csv_and_marker_together(tmp_path):
    from harness.data.video import write_synth_video

    out = tmp_path / "v"
    write_synth_video(out, seed=1, n_frames=4)
    write_synth_video(out, seed=2, n_frames=3)
    meta = json.loads((out / "synth-video.json").read_text())
    assert (meta["seed"], meta["frames"]) == (2, 3)
    assert sorted(p.name for p in out.iterdir()) == ["synth-video.json", "synth.csv", "synth.mp4"]
    assert hidden_siblings(out) == []


@pytest.mark.parametrize("what", ["synth", "video"])
def test_out_at_a_file_is_one_line(tmp_path, what):
    target = tmp_path / "a-file"
    target.write_text("x")
    line = one_line_error(bench("data", what, "--out", str(target)))
    assert f"{target}: expected a folder" in line and "got a file" in line
    line = one_line_error(bench("data", what, "--out", str(target / "below")))
    assert f"{target}: expected a folder, got a file" in line
    assert target.read_text() == "x"


def test_two_regenerations_of_one_folder_at_once_both_succeed(tmp_path):
    out = tmp_path / "d"
    write_dataset(out, seed=1, n_train=1, n_val=1)
    procs = [subprocess.Popen([sys.executable, "-m", "harness", "data", "synth", "--out", str(out), "--seed", "2",
                               "--n-train", "25", "--n-val", "2"], env=bench_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert json.loads((out / "synth.json").read_text())["seed"] == 2
    assert len(list((out / "images" / "train").iterdir())) == 25 and hidden_siblings(out) == []
