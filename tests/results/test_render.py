"""The one run-table renderer (results/render.py), the validity verdict and the answer line."""

from __future__ import annotations

import json

import pytest

from results import format as fmt
from results.answer import answer
from results.archive import Archive
from results.compare import Mark, compare
from results.record import stage_summary
from results.render import print_run, run_table
from results.report import write_report
from results.schema import Record, validate_record
from results.validity import verdict

from .conftest import DATA, make_record


def _record(**kw) -> Record:
    return validate_record(make_record(**kw), "test")


def _printed(record: Record, width: int, **kw) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, color_system=None)
    print_run(record, console=console, **kw)
    return console.export_text()


def _v2() -> Record:
    return validate_record(json.loads((DATA / "record_v2.json").read_text()), "record_v2.json")


@pytest.mark.parametrize("record", [_v2, lambda: _record(cpu_wait={"int8": 0.62}, failed=("pruned50",))])
def test_the_run_table_fits_80_columns_and_uses_the_full_width_when_there_is_room(record):
    record = record()
    narrow = _printed(record, 80)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "left out to fit 80 columns: MB" in narrow
    wide = _printed(record, 200)
    assert "left out" not in wide and "MB" in wide and "inf p50" in wide
    header = "\n".join(wide.splitlines()[:4])
    assert "e2e p50" in header and "e2e p99" in header  # every latency column says what it timed


def test_contended_row_is_marked_with_its_figure_in_the_legend_and_judged_the_same_way_by_compare():
    record = _record(cpu_wait={"int8": 0.62, "fp32": 0.02})
    table = run_table(record)
    int8 = next(r for r in table.rows if r.name == "int8")
    fp32 = next(r for r in table.rows if r.name == "fp32")
    assert int8.validity.contended and int8.cells["status"] == "ok C" and not int8.notes
    assert fp32.validity.ok and "contended" in fp32.validity.checked and fp32.cells["status"] == "ok"
    assert table.legend[-2].startswith("marks: C contended (threads waited for a CPU over 20% of their ready time")
    assert table.legend[-1] == "marked rows (their speed figures are not to be trusted): int8 C (wait 62%)"
    c = compare(_record(seed=1, cpu_wait={"int8": 0.02}), record)
    row = next(v for v in c.variants if v.name == "int8")
    assert row.validity_candidate == verdict(record.variant("int8")) and row.validity_candidate.contended


def _with_telemetry(**telemetry) -> dict:
    raw = make_record(seed=2)
    raw["variants"][1]["telemetry"].update(telemetry)  # int8
    return raw


@pytest.mark.parametrize("telemetry, needle", [
    ({"clocks_before": {"gpu_mhz": 1300.0}, "clocks_after": {"gpu_mhz": 900.0}}, "gpu clock 900 MHz, under 75%"),
    ({"cpu_freq_mhz": {"before": [2400.0, 2400.0], "after": [1500.0, 2400.0], "mean": [2000.0, 2400.0]}},
     "CPU core 0 at 1500 MHz"),
    ({"throttled": True, "throttle_reasons": ["SW thermal slowdown"], "throttle_checks": ["NVML clock-event reasons"]},
     "SW thermal slowdown"),
])
def test_a_clock_trace_under_75_percent_marks_throttled(telemetry, needle):
    record = validate_record(_with_telemetry(**telemetry), "t")
    v = verdict(record.variant("int8"))
    assert v.throttled and v.marks == "T" and needle in v.reasons[0]
    table = run_table(record)
    assert next(r for r in table.rows if r.name == "int8").cells["status"] == "ok T"
    assert table.legend[-1].endswith(f"int8 T ({needle}") or f"int8 T ({needle}" in table.legend[-1]
    assert verdict(record.variant("fp32")).ok  # the other rows are untouched


def test_clocks_within_75_percent_and_no_throttle_flag_are_not_marked():
    record = validate_record(_with_telemetry(clocks_before={"gpu_mhz": 1300.0}, clocks_after={"gpu_mhz": 1200.0},
                                             throttled=False), "t")
    v = verdict(record.variant("int8"))
    assert v.ok and "throttled" in v.checked


def test_throttled_run_turns_a_speed_verdict_into_load_differed():
    base = _record(seed=1)
    raw = make_record(seed=2, slow={"int8": 1.6}, cpu_wait={"int8": 0.0, "fp32": 0.0})
    raw["variants"][1]["telemetry"].update(clocks_before={"gpu_mhz": 1300.0}, clocks_after={"gpu_mhz": 600.0})
    plain = compare(validate_record(make_record(seed=2, slow={"int8": 1.6}), "c"), base)
    throttled = compare(base, validate_record(raw, "c"))
    assert any(v.mark is Mark.BETTER for v in plain.variants if v.name == "int8")  # sanity: a real change
    int8 = next(v for v in throttled.variants if v.name == "int8")
    assert int8.mark is Mark.LOAD and "clocks throttled in the candidate run" in int8.metric("fps").note


def test_a_burst_of_contention_marks_the_row_unstable():
    record = _record(burst={"int8": (0.3, 0.65, 1.8)})
    v = verdict(record.variant("int8"))
    assert v.unstable and not v.contended and "block medians" in v.reasons[0]
    assert verdict(record.variant("fp32")).ok


def test_the_answer_is_judged_on_the_upper_end_of_the_ci():
    record = _record()  # int8: drop +1.5 [+1.1, +1.9] and 2.2x fp32; pruned50: +5.0
    assert answer(record).endswith(": no variant within budget; fp32 stays (44.9 FPS)")
    loose = answer(record, max_drop=2.0)
    assert ": int8, " in loose and "x fp32" in loose and "<= 2 points at the upper end" in loose
    assert answer(record, max_drop=1.6).count("int8") == 0  # the point estimate 1.5 fits, the CI's 1.9 does not
    raw = make_record()
    for v in raw["variants"]:
        if v["name"] == "fp32":
            v["timing"]["fps"] = 1000.0  # fp32 faster than everything
    assert "fp32 itself" in answer(validate_record(raw, "t"), max_drop=10)
    printed = _printed(_record(cpu_wait={"int8": 0.62}), 80, max_drop=2.0)
    assert "int8" in printed and "[C: contended]" in printed


def test_no_variant_within_budget_is_said_plainly():
    raw = make_record()
    for v in raw["variants"]:
        if v["name"] == "int8":
            v["vs_reference"]["map_drop_ci95"] = [1.2, 3.0]
    said = answer(validate_record(raw, "t"), max_drop=0.5)
    assert said == ("answer (cpu, mAP50-95 drop <= 0.5 points at the upper end of its 95% CI): no variant within "
                    "budget; fp32 stays (44.9 FPS)")
    raw = make_record()
    raw["data"]["with_ground_truth"] = False
    for v in raw["variants"]:
        v["accuracy"] = None
        if v.get("vs_reference"):
            v["vs_reference"].update(map_drop_points=None, map_drop_ci95=None, map_pct_of_reference=None)
    assert answer(validate_record(raw, "t")).endswith("cannot say, no accuracy drop was measured (no ground truth)")


def test_report_and_terminal_show_the_same_columns_and_cells(tmp_path):
    record = _record(cpu_wait={"int8": 0.62})
    table = run_table(record)
    md = write_report([(record, None)], tmp_path).markdown.read_text()
    assert "| " + " | ".join(c.header for c in table.columns) + " |" in md
    for row in table.rows:
        assert "| " + " | ".join(table.cells(row)) + " |" in md
    assert "agree" in md and table.answer in md.split("## ")[0]  # the answer at the top of the report
    assert "| +1.50 [+1.10, +1.90] |" in md and "| 1.50 [1.10, 1.90] |" not in md  # one drop format


def test_report_telemetry_reads_as_units_not_internal_keys(tmp_path):
    raw = make_record()
    raw["variants"][0]["telemetry"] = {"sources": {"psutil": {"samples": 31, "pid": 23180}},
                                       "power": {"mean_w": 7.25, "peak_w": 9.5}, "energy_per_frame_j": 0.161,
                                       "process": {"cpu_percent": 180.0, "cpu_wait_share": 0.05, "rss_mb_peak": 310.4},
                                       "clocks_before": {"gpu_mhz": 1300.0}, "clocks_after": {"gpu_mhz": 1290.0},
                                       "temperatures_c": {"cpu-thermal": 61.5}, "throttled": False}
    md = write_report([(validate_record(raw, "t"), None)], tmp_path).markdown.read_text()
    section = md[md.index("| Telemetry"):]
    section = section[:section.index("\n\n")]
    for text in ("power, mean (W) | 7.25", "energy per frame (J) | 0.161", "CPU wait (% of ready time) | 5",
                 "GPU clock, start -> end of window (MHz) | 1300 -> 1290", "temperature cpu-thermal, peak (°C) | 61.5",
                 "throttled | no"):
        assert text in section
    assert "sources." not in section and "pid" not in section and "e+" not in md


def test_numbers_read_as_numbers():
    assert fmt.number(23180) == "23180" and fmt.number(23180.0) == "23180" and fmt.number(None) == fmt.DASH
    assert fmt.drop(0.43, (-0.1, 0.9)) == "+0.43 [-0.10, +0.90]" and fmt.drop(None) == fmt.DASH


def test_one_definition_of_the_latency_summary():
    from harness.pipeline.timing import LatencyStats

    x = [3.0, 1.0, 2.0, 8.0]
    assert stage_summary(x) == LatencyStats.from_samples(x).to_dict()
    assert stage_summary([3.0])["std_ms"] is None and LatencyStats.from_samples([3.0]).std is None


def test_new_record_is_typed_and_saved_without_a_second_validation(tmp_path, monkeypatch):
    from results import archive as archive_module
    from results.record import new_record, variant_entry

    typed = new_record(release="v1", command=["bench", "run"], device="cpu", hardware={}, runtime_versions={},
                       model={"path": "m.pt", "sha256": "0" * 64, "name": "m"},
                       data={"kind": "images", "source": "x", "count": 1, "with_ground_truth": False},
                       variants=[variant_entry(name="fp32", format="onnx", precision="fp32")],
                       harness={"version": "0.1.0", "git_commit": None})
    assert isinstance(typed, Record) and typed.variant("fp32").ok
    monkeypatch.setattr(archive_module, "validate_record", lambda *a, **k: pytest.fail("validated twice"))
    path = Archive(tmp_path).save(typed)
    assert validate_record(json.loads(path.read_text()), "saved") == typed


def test_a_marked_student_keeps_its_teacher_line_pointing_at_the_student_note():
    """The student's marks sit in its cell beside its own note number; the teacher sub-line points at that note."""
    raw = json.loads((DATA / "record_v2.json").read_text())
    student = next(v for v in raw["variants"] if v["name"] == "student")
    student["telemetry"] = {"process": {"cpu_wait_share": 0.5}}
    table = run_table(validate_record(raw, "v2"))
    i = next(i for i, r in enumerate(table.rows) if r.name == "student" and r.status != "sub")
    row, sub = table.rows[i], table.rows[i + 1]
    assert row.cells["status"] == f"ok C ({row.notes[0]})" and len(row.notes) == 1  # the mark is not a note
    assert sub.cells["status"] == f"({row.notes[0]})" and "student rows" in table.notes[row.notes[0] - 1]
    assert "student C (wait 50%)" in table.legend[-1]


def test_at_80_columns_every_status_stays_on_its_row_when_every_row_is_marked():
    """A real default run (OpenVINO, every row contended and unstable, a pruned row's control and a student's
    teacher sub-line): at 80 columns each status cell (marks, footnote numbers) prints whole on its row's line.
    The marks are not footnotes (one note per marked row once made `ok CU (11,12)` wrap): their figures are on
    the legend's last line, one entry per row."""
    import re
    from pathlib import Path

    from results.archive import load_record

    record = load_record(Path(__file__).parent / "data" / "record_default_contended.json")
    printed = _printed(record, 80)
    assert max(len(line) for line in printed.splitlines()) <= 80
    table = run_table(record)
    lines = printed.splitlines()
    for row in table.rows:
        if row.status == "sub":
            continue
        line = next(x for x in lines if x.startswith(row.name + " "))
        assert line.rstrip().endswith(row.cells["status"]), (row.name, line)
        assert row.validity.marks == "CU" or row.status == "skipped"
    assert len({n for row in table.rows for n in row.notes}) == len(table.notes) == 5  # fp16, control x2, student, teacher
    assert not re.search(r"\([\d,]*$", printed, re.M)  # no footnote number cut at the end of a line
    marked = " ".join(printed[printed.index("marked rows ("):].split())  # the line as rich wrapped it, joined
    for row in table.rows:
        if row.status == "ok":
            assert re.search(rf"(: |; ){re.escape(row.name)} CU \(wait \d+%, blocks \d\.\d\dx\)", marked), row.name


@pytest.mark.parametrize("width", [80, 100, 120])
def test_variant_names_and_sub_lines_are_never_folded(width):
    """fit() keeps only the columns that fit as rich measures them (its trailing padding counts): once a
    table was judged to fit at 80 by its printed text and rich then folded '└ vs control' over two lines."""
    from pathlib import Path

    from results.archive import load_record

    for record in (load_record(Path(__file__).parent / "data" / "record_default_contended.json"), _v2()):
        printed = _printed(record, width)
        assert max(len(line) for line in printed.splitlines()) <= width
        lines = [line.strip() for line in printed.splitlines()]
        for row in run_table(record).rows:
            name = row.cells["variant"].strip()
            assert any(line.startswith(name) for line in lines), (width, name)
