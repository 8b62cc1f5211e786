"""The archive: layout, atomic never-overwriting writes, kills, races, corrupted files."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.errors import InputError
from results.archive import Archive, default_root, load_record

from .conftest import make_record

WRITER = Path(__file__).parent / "writer.py"
ROOT = Path(__file__).parents[2]


def _writer(root, tag, start, count, samples=0, slow=False):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [str(root), tag, str(start), str(count), str(samples), "1" if slow else "0"]
    return subprocess.Popen([sys.executable, str(WRITER), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_save_uses_the_identity_path_and_never_overwrites(tmp_path):
    archive = Archive(tmp_path)
    record = make_record(release="v1.2")
    path = archive.save(record)
    assert path == tmp_path / "v1.2" / "cpu" / "yolo11n" / f"{record['run_id']}.json"
    assert archive.load(path).to_dict() == record
    before = path.read_bytes()
    changed = dict(record, settings={"threads": 99})
    with pytest.raises(InputError, match="already archived"):
        archive.save(changed)
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".*"))  # no temp file left behind


def test_save_refuses_invalid_records_and_unsafe_filters(tmp_path):
    archive = Archive(tmp_path)
    record = make_record()
    record["release"] = "../../etc"
    with pytest.raises(InputError, match="record to save at release"):
        archive.save(record)
    with pytest.raises(InputError, match="archive filter"):
        archive.runs(release="..")
    assert not any(tmp_path.iterdir())


def test_save_without_hard_links_still_never_overwrites(tmp_path, monkeypatch):
    def no_link(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    archive = Archive(tmp_path)
    record = make_record()
    path = archive.save(record)
    assert archive.load(path).run_id == record["run_id"]
    with pytest.raises(InputError, match="already archived"):
        archive.save(record)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_runs_filters_and_resolve(tmp_path):
    archive = Archive(tmp_path)
    archive.save(make_record(release="v1", seed=1, minutes=0))
    newest = archive.save(make_record(release="v1", seed=2, minutes=5))
    archive.save(make_record(release="v1", device="jetson", seed=3, minutes=6))
    archive.save(make_record(release="v2", seed=4, minutes=10))
    assert len(archive.runs()) == 4
    assert [r.release for r in archive.runs(device="cpu")] == ["v1", "v1", "v2"]
    assert archive.runs(model="yolo12n") == []
    assert archive.releases() == ["v1", "v2"]
    refs = archive.resolve("v1")
    assert [(r.device, r.path) for r in refs] == [("cpu", newest), ("jetson", refs[1].path)]
    assert [r.path for r in archive.resolve("v1", device="cpu")] == [newest]
    run_id = newest.stem
    assert archive.resolve(run_id)[0].path == newest
    assert archive.resolve(str(newest))[0].run_id == run_id
    with pytest.raises(InputError, match=r"releases: v1, v2"):
        archive.resolve("v3")
    with pytest.raises(InputError, match="a run id archived"):
        archive.resolve("20000101T000000Z-abcdef")
    prev = archive.previous(archive.load(archive.resolve("v2")[0].path))
    assert prev.path == newest


def test_corrupted_and_misplaced_records_are_reported_by_name_not_raised(tmp_path):
    archive = Archive(tmp_path)
    good = archive.save(make_record(release="v1", seed=1))
    bad = good.with_name("20261121T233000Z-badbad.json")
    bad.write_text(good.read_text()[:300])
    moved = tmp_path / "v9" / "cpu" / "yolo11n" / good.name
    moved.parent.mkdir(parents=True)
    moved.write_text(good.read_text())
    (good.parent / f".{good.name}.x1y2.tmp").write_text("{")  # a killed writer's leftover
    refs = {r.path: r for r in archive.runs()}
    assert set(refs) == {good, bad, moved}
    assert refs[good].ok and refs[good].record.release == "v1"
    assert not refs[bad].ok and str(bad) in refs[bad].problem and "invalid JSON" in refs[bad].problem
    assert not refs[moved].ok and "to live at" in refs[moved].problem
    assert archive.resolve("v1")[0].path == good
    assert len(archive.stale_temp_files()) == 1


def test_default_root_precedence(tmp_path):
    assert default_root("x", env={"BENCH_ARCHIVE": "y"}) == Path("x")
    assert default_root(None, env={"BENCH_ARCHIVE": "y"}) == Path("y")
    assert default_root(None, env={}) == Path("bench-archive")


@pytest.mark.slow
def test_sigkill_at_random_points_never_leaves_a_partial_record(tmp_path):
    rng = random.Random(7)
    root = tmp_path / "archive"
    saved = 0
    for trial in range(20):
        proc = _writer(root, f"t{trial}", trial * 100_000, 0, slow=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        saved += out.count("saved")
    archive = Archive(root)
    refs = archive.runs()
    problems = [r.problem for r in refs if not r.ok]
    assert problems == []
    assert len(refs) >= saved  # every save the writer reported is there, complete
    for ref in refs:
        assert load_record(ref.path).run_id == ref.run_id
    # the kills did land mid-write: interrupted writes left only hidden temp files,
    # some of them partial (shorter than a complete record)
    stale = archive.stale_temp_files()
    assert stale, "no kill landed mid-write"
    complete = max(p.stat().st_size for p in (r.path for r in refs))
    assert any(p.stat().st_size < complete for p in stale)


def test_two_concurrent_writers_never_clobber(tmp_path):
    root = tmp_path / "archive"
    # both write the same 25 run ids at the same time: each id must end up holding one
    # complete record from one writer, and the other writer must have been refused
    a, b = _writer(root, "A", 0, 25), _writer(root, "B", 0, 25)
    out_a, err_a = a.communicate(timeout=60)
    out_b, err_b = b.communicate(timeout=60)
    assert a.returncode == 0 and b.returncode == 0, err_a + err_b
    saved = {tag: {line.split()[1] for line in out.splitlines() if line.startswith("saved")}
             for tag, out in (("A", out_a), ("B", out_b))}
    assert saved["A"].isdisjoint(saved["B"])
    assert len(saved["A"] | saved["B"]) == 25
    refs = Archive(root).runs()
    assert len(refs) == 25 and all(r.ok for r in refs)
    for ref in refs:
        writer = json.loads(ref.path.read_text())["extra"]["writer"]
        assert str(int(ref.run_id.split("-")[1], 16)) in saved[writer]


def test_a_deeply_nested_file_is_listed_with_its_problem_and_a_missing_path_is_no_such_file(tmp_path):
    archive = Archive(tmp_path)
    nested = tmp_path / "r1" / "cpu" / "yolo11n" / "20261121T233000Z-000001.json"
    nested.parent.mkdir(parents=True)
    nested.write_text("[" * 100_000 + "]" * 100_000)
    (ref,) = archive.runs()
    assert not ref.ok and "nested too deeply" in ref.problem and str(nested) in ref.problem
    with pytest.raises(InputError, match="expected an existing record file, got no such file"):
        archive.resolve(str(tmp_path / "typo.json"))
    with pytest.raises(InputError, match="no such file"):
        archive.resolve(str(tmp_path / "sub" / "r1"))  # a path, not a release name
