"""Like-for-like baselines (results/baseline.py): compare and report pair runs scored on the same data."""

from __future__ import annotations

import json
from types import SimpleNamespace as NS

import pytest

from harness.cli import main
from results import baseline
from results.archive import Archive

from .conftest import make_record

IMAGE_RUN = "20261121T233000Z-000001"  # dev, images, oldest
VIDEO_RUN = "20261121T234000Z-000002"  # dev, a video, newer


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.setenv("BENCH_ARCHIVE", str(tmp_path / "archive"))
    a = Archive(tmp_path / "archive")
    a.save(make_record(release="dev", seed=1, minutes=0))
    a.save(make_record(release="dev", seed=2, minutes=10, kind="video"))
    a.save(make_record(release="r2", seed=3, minutes=20))  # images again
    return a


def test_data_identity_counts_kind_source_count_and_ground_truth():
    a = NS(data=NS(kind="images", source="s", count=200, with_ground_truth=True))
    assert baseline.same_data(a, NS(data=NS(kind="images", source="s", count=200, with_ground_truth=True)))
    for change in ({"kind": "video"}, {"source": "t"}, {"count": 199}, {"with_ground_truth": False}):
        other = NS(data=NS(**{**vars(a.data), **change}))
        assert not baseline.same_data(a, other), change
    hashed = NS(data=NS(kind="images", source="s", count=200, with_ground_truth=True, sha256="f" * 64))
    renamed = NS(data=NS(kind="images", source="elsewhere", count=200, with_ground_truth=True, sha256="f" * 64))
    assert baseline.same_data(hashed, renamed)  # a data hash, where recorded, is the identity


def test_compare_takes_the_release_run_on_the_same_data_not_the_newer_video_run(archive, capsys):
    assert main(["compare", "dev", "r2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (c,) = doc["comparisons"]
    assert c["base"]["run_id"] == IMAGE_RUN and c["same_data"] is True
    mAP = next(m for v in c["variants"] for m in v["metrics"] if v["name"] == "int8" and m["metric"] == "map50_95")
    assert mAP["mark"] != "not comparable" and mAP["base"] is not None


def test_compare_says_plainly_when_no_like_for_like_baseline_exists(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_ARCHIVE", str(tmp_path / "a"))
    a = Archive(tmp_path / "a")
    a.save(make_record(release="dev", seed=2, minutes=10, kind="video"))
    a.save(make_record(release="r2", seed=3, minutes=20))
    assert main(["compare", "dev", "r2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: ") and "no like-for-like baseline" in err[0]
    assert "60 video frames from embedded-synthetic" in err[0] and "60 images" in err[0]
    # a run id as BASE is the user's explicit choice: compared, accuracy left out and said so
    assert main(["compare", VIDEO_RUN, "r2", "--json"]) == 0
    (c,) = json.loads(capsys.readouterr().out)["comparisons"]
    assert c["same_data"] is False and any("not like for like" in n for n in c["notes"])
    marks = {m["mark"] for v in c["variants"] for m in v["metrics"] if m["metric"] == "map50_95"}
    assert marks == {"not comparable"}


def test_report_baseline_is_like_for_like_and_says_so_when_there_is_none(archive, tmp_path):
    from results.cli import add_report_arguments
    import argparse

    def picked(*argv):  # the comparison run_report would render, without drawing the report
        import results.report

        seen = {}

        def fake_write(runs, out, **kw):
            seen["runs"], seen["notes"] = runs, kw.get("notes")
            return NS(markdown=out / "r.md", html=out / "r.html", images=())

        parser = argparse.ArgumentParser()
        add_report_arguments(parser)
        args = parser.parse_args([*argv, "--out", str(tmp_path / "rep")])
        real, results.report.write_report = results.report.write_report, fake_write
        try:
            from results.cli import run_report

            assert run_report(args) == 0
        finally:
            results.report.write_report = real
        (record, comparison), = seen["runs"]
        return comparison, seen["notes"].get(record.run_id)

    c, note = picked("r2")  # default: the newest earlier run of another release on the same data
    assert c is not None and c.base.run_id == IMAGE_RUN and c.same_data and note is None
    c, note = picked("r2", "--against", "dev")
    assert c.base.run_id == IMAGE_RUN
    c, note = picked(VIDEO_RUN, "--against", "r2")  # r2 has only images: no baseline for a video run
    assert c is None and note.startswith("no like-for-like baseline for yolo11n on cpu")
    c, note = picked("r2", "--baseline", VIDEO_RUN)  # explicit: taken as given, not like for like
    assert c.base.run_id == VIDEO_RUN and not c.same_data and note is None


def test_report_renders_the_no_baseline_note_and_no_map_bars_across_data(archive, tmp_path):
    from results.archive import load_record
    from results.compare import compare
    from results.report import write_report

    image, video = (load_record(p) for p in sorted(archive.root.glob("dev/cpu/yolo11n/*.json")))
    files = write_report([(image, None)], tmp_path / "a", notes={image.run_id: "no like-for-like baseline for x"})
    assert "### Baseline\n\nNo like-for-like baseline for x." in files.markdown.read_text()
    c = compare(video, image)
    assert not c.same_data
    files = write_report([(image, c)], tmp_path / "b")
    assert "Not like for like" in files.markdown.read_text()
