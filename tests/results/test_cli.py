"""bench history / compare / report through the real command line (harness.cli.main)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.cli import main
from results.archive import Archive

from .conftest import make_record


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "220")
    root = tmp_path / "archive"
    monkeypatch.setenv("BENCH_ARCHIVE", str(root))
    a = Archive(root)
    a.save(make_record(release="v1.0", seed=1, minutes=0))
    a.save(make_record(release="v1.1", seed=2, minutes=10))
    return a


def test_history_lists_runs_and_reports_a_corrupted_record_by_name(archive, capsys):
    bad = archive.root / "v1.1" / "cpu" / "yolo11n" / "20261121T235900Z-0badc0.json"
    bad.write_text('{"schema_version": 1, "run_id": ')
    assert main(["history"]) == 0
    out, err = capsys.readouterr()
    assert "20261121T233000Z-000001" in out and "20261121T234000Z-000002" in out and "v1.1" in out
    assert str(bad) in err and "invalid JSON" in err
    assert main(["history", "--json", "--release", "v1.0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["release"] for r in doc["runs"]] == ["v1.0"]
    assert doc["runs"][0]["variants"] == {"ok": 3, "skipped": 1, "failed": 0}


def test_history_of_an_empty_archive(tmp_path, capsys):
    assert main(["history", "--archive", str(tmp_path / "none")]) == 0
    assert "no readable runs" in capsys.readouterr().out


def test_compare_two_releases_exits_0(archive, capsys):
    assert main(["compare", "v1.0", "v1.1"]) == 0
    out = capsys.readouterr().out
    assert "no regression" in out and "int8" in out


def test_compare_a_slower_candidate_exits_1_and_names_the_variant(archive, capsys):
    archive.save(make_record(release="v1.2", seed=3, minutes=20, slow={"int8": 1.3}, threads=1))
    assert main(["compare", "v1.1", "v1.2"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("REGRESSION: int8") and "p50 ms 1.3" in last
    assert main(["compare", "v1.1", "v1.2", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_status"] == 1 and doc["comparisons"][0]["regressions"] == ["int8"]
    # a generous factor turns the same slowdown into "not a regression"
    assert main(["compare", "v1.1", "v1.2", "--factor", "1.5"]) == 0


def test_compare_on_a_narrow_terminal_leaves_out_whole_columns_and_says_which(archive, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    archive.save(make_record(release="v1.2", seed=3, minutes=20, slow={"int8": 1.3}, threads=1))
    assert main(["compare", "v1.1", "v1.2"]) == 1
    out = capsys.readouterr().out
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 60
    joined = " ".join(out.split())  # the console wraps its lines at 60
    assert "left out to fit 60 columns: avg IoU, mAP50-95 (a wider terminal or --json shows them)" in joined
    assert "88.5→71.4" in out and joined.endswith("REGRESSION: int8 (cpu/yolo11n: FPS 0.81x, inf p50 ms 1.30x, inf "
                                                  "p99 ms 1.30x)")  # the judged columns stay


def test_compare_a_burst_of_contention_exits_0_and_says_speed_was_not_judged(archive, capsys):
    # same variant, same settings; a third of the candidate run was slowed by another process
    archive.save(make_record(release="v1.2", seed=3, minutes=20, burst={"int8": (0.3, 0.65, 1.8)}))
    assert main(["compare", "v1.1", "v1.2"]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith("no regression; ~ beyond the factor but not judged: int8 FPS 0.")
    assert "~ int8 FPS 0.8" in out and "the candidate run's block FPS spread" in out
    row = next(line for line in out.splitlines() if " int8" in line)
    assert "~" in row and "too noisy" not in row and "better" not in row and "worse" not in row  # no words
    assert "factor 1.1 and significant" in out
    assert main(["compare", "v1.1", "v1.2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    int8 = next(v for v in doc["comparisons"][0]["variants"] if v["name"] == "int8")
    fps = int8["metrics"][0]
    assert fps["verdict"] == "too noisy" and fps["ratio"] < 1 / 1.1 and fps["p_value"] >= 0.01
    assert fps["factor"] == doc["factor"] == 1.1 and doc["exit_status"] == 0


def test_compare_a_uniform_slowdown_exits_1_and_a_borderline_one_exits_0_but_is_shown(archive, capsys):
    archive.save(make_record(release="v1.2", seed=3, minutes=20, slow={"pruned50": 1.6}))
    assert main(["compare", "v1.1", "v1.2"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("REGRESSION: pruned50") and "p50 ms 1.6" in last
    archive.save(make_record(release="v1.3", seed=4, minutes=30, slow={"pruned50": 1.07}))
    assert main(["compare", "v1.1", "v1.3"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "no regression"
    row = next(line for line in out.splitlines() if "pruned50" in line)
    assert "~ 1.07x" in row and "small" not in row  # shown as a compact ~, no verdict word
    assert main(["compare", "v1.1", "v1.3", "--factor", "1.05"]) == 1
    assert "REGRESSION: pruned50" in capsys.readouterr().out


def test_compare_older_records_without_the_sample_order_marker(archive, capsys):
    for release, seed, slow in (("v0.8", 5, {}), ("v0.9", 6, {"int8": 1.6})):
        record = make_record(release=release, seed=seed, minutes=-60 + seed, slow=slow)
        for v in record["variants"]:
            if v.get("timing"):
                v["timing"].pop("extra")
        archive.save(record)
    assert main(["compare", "v0.8", "v0.9"]) == 1
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("REGRESSION: int8")
    assert "does not say its samples are in measurement order" in out


def test_compare_by_run_id_and_by_file(archive, capsys):
    ids = [r.run_id for r in archive.runs()]
    assert main(["compare", ids[0], ids[1]]) == 0
    assert f"v1.0 ({ids[0]}) -> v1.1 ({ids[1]})" in capsys.readouterr().out
    paths = [str(r.path) for r in archive.runs()]
    assert main(["compare", paths[0], paths[1], "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["comparisons"][0]["base"]["run_id"] == ids[0] and doc["exit_status"] == 0


def test_compare_different_model_is_not_comparable(archive, capsys):
    archive.save(make_record(release="v2.0", seed=4, minutes=30, sha="cd" * 32, slow={"int8": 2.0}))
    assert main(["compare", "v1.1", "v2.0"]) == 2
    captured = capsys.readouterr()
    assert "NOT COMPARABLE" in captured.out and "model SHA-256 differs" in captured.err


def test_compare_skips_a_corrupted_record_and_reports_it(archive, capsys):
    newer = archive.root / "v1.1" / "cpu" / "yolo11n" / "20261122T000000Z-0badc0.json"
    newer.write_bytes(b"\x00" * 10)
    assert main(["compare", "v1.0", "v1.1"]) == 0
    captured = capsys.readouterr()
    assert str(newer) in captured.err and "no regression" in captured.out


def test_compare_bad_input_is_one_line_exit_2(archive, capsys):
    assert main(["compare", "v1.0", "v9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "releases: v1.0, v1.1" in err
    assert main(["compare", "v1.0", "../x"]) == 2
    assert main(["compare", "v1.0", "v1.1", "--factor", "0.5"]) == 2
    assert "--factor" in capsys.readouterr().err


def test_compare_pairs_runs_by_device_and_model(archive, capsys):
    archive.save(make_record(release="v1.1", device="jetson", seed=5, minutes=12))
    assert main(["compare", "v1.0", "v1.1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["comparisons"]) == 1 and doc["unpaired"] == ["yolo11n on jetson only in v1.1"]


# ------------------------------------------------------------------ report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_png(data: bytes) -> tuple[int, int]:
    """Check the PNG structure chunk by chunk (CRCs, IHDR..IEND, inflatable IDAT) and decode it."""
    assert data[:8] == PNG_SIGNATURE
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, color = struct.unpack(">IIBB", chunks[0][1][:10])
    channels = {2: 3, 6: 4, 0: 1, 4: 2}[color]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + width * channels * depth // 8)
    from matplotlib.image import imread

    assert imread(io.BytesIO(data), format="png").shape[:2] == (height, width)
    return width, height


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


def _check_report(out: Path) -> tuple[str, list[str]]:
    md = (out / "report.md").read_text()
    for link in [line.split("](", 1)[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]:
        assert_valid_png((out / link).read_bytes())
    parser = _Images()
    page = (out / "report.html").read_text()
    parser.feed(page)
    parser.close()
    assert "table" in parser.tags and "h1" in parser.tags
    import base64

    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        assert_valid_png(base64.b64decode(src.split(",", 1)[1], validate=True))
    return md, parser.srcs


@pytest.mark.slow
def test_report_of_a_release_with_previous_release(archive, tmp_path, capsys):
    archive.save(make_record(release="v1.2", seed=3, minutes=20, slow={"int8": 1.3}, kind="video", gaps=True))
    out = tmp_path / "report"
    # v1.1 scored images, v1.2 a video: not like for like, so only an explicit --baseline compares them (speed only)
    assert main(["report", "v1.2", "--out", str(out), "--baseline", "20261121T234000Z-000002"]) == 0
    md, srcs = _check_report(out)
    assert "## yolo11n on cpu" in md and "Compared with v1.1" in md and "REGRESSION: int8" in md
    assert "Not like for like" in md
    assert "| trt-fp16 | — |" in md and "skip (1) |" in md and "trt-fp16: TensorRT is not installed" in md
    names = sorted(p.name for p in (out / "plots").iterdir())
    assert names == ["cpu-yolo11n-fps-vs-map.png", "cpu-yolo11n-iou-frames.png", "cpu-yolo11n-iou-hist.png",
                     "cpu-yolo11n-latency.png", "cpu-yolo11n-vs-v1.1.png"]
    assert len(srcs) == 5


def test_report_without_samples_or_previous_release_draws_only_what_was_measured(archive, tmp_path):
    record = make_record(release="v0.9", seed=9, minutes=-10, samples=False)
    for v in record["variants"]:
        v["per_frame_iou"] = None
    path = archive.save(record)
    out = tmp_path / "r"
    assert main(["report", str(path), "--out", str(out)]) == 0
    md, srcs = _check_report(out)
    assert "Compared with" not in md
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["cpu-yolo11n-fps-vs-map.png"]
    assert len(srcs) == 1


@pytest.mark.slow
def test_report_against_none_and_explicit(archive, tmp_path):
    out = tmp_path / "a"
    assert main(["report", "v1.1", "--out", str(out), "--against", "none"]) == 0
    assert "Compared with" not in (out / "report.md").read_text()
    assert main(["report", "v1.0", "--out", str(out), "--against", "v1.1"]) == 0
    assert "Compared with v1.1" in (out / "report.md").read_text()


def test_a_release_with_only_corrupted_records_is_bad_input_naming_the_file(archive, capsys):
    only = archive.root / "v3" / "cpu" / "yolo11n" / "20261122T000000Z-0badc0.json"
    only.parent.mkdir(parents=True)
    only.write_text("{}")
    assert main(["compare", "v1.1", "v3"]) == 2
    err = capsys.readouterr().err
    assert str(only) in err and "expected readable runs of release 'v3'" in err


def test_report_into_an_unwritable_place_is_one_line(archive, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["report", "v1.1", "--out", str(blocker / "sub"), "--against", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "expected a writable output directory" in err


def test_report_answer_line_takes_the_budget(archive, tmp_path, capsys):
    path = archive.save(make_record(release="v0.9", seed=9, minutes=-10, samples=False))
    out = tmp_path / "r"
    assert main(["report", str(path), "--out", str(out), "--against", "none", "--max-drop", "2"]) == 0
    top = (out / "report.md").read_text().split("\n## ")[0]
    assert "drop <= 2 points at the upper end of its 95% CI): int8, " in top and "x fp32" in top
    assert main(["report", str(path), "--out", str(out), "--max-drop", "-1"]) == 2
    assert "--max-drop: expected a budget >= 0" in capsys.readouterr().err


def test_history_of_one_run_prints_its_run_table(archive, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    run_id = archive.runs()[0].run_id
    assert main(["history", run_id]) == 0
    out = capsys.readouterr().out
    assert "yolo11n on cpu (engine/onnx)" in out and "answer (cpu, mAP50-95 drop <= 1 point" in out
    assert "e2e p50" in out and f"{run_id}.json" in out and max(len(line) for line in out.splitlines()) <= 80
