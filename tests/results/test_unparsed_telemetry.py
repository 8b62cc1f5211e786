"""Telemetry values a source printed but bench could not parse: one line under the run table, in every output."""

from __future__ import annotations

import html

from results.render import UNPARSED_SHOWN, print_run, run_table, unparsed_line
from results.report import write_report
from results.schema import Record, validate_record

from .conftest import make_record


def _with_unparsed(per_row: dict[str, dict[str, int]]) -> Record:
    """A record whose rows' telemetry carries the summary's ``unparsed_fields`` (as a Jetson run stores it)."""
    raw = make_record()
    for v in raw["variants"]:
        if v["name"] in per_row:
            v["telemetry"] = {**v["telemetry"], "sources": {"psutil": {"samples": 40}, "tegrastats": {"samples": 40}},
                              "unparsed_fields": per_row[v["name"]]}
    return validate_record(raw, "test")


def _printed(record: Record) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    print_run(record, console=console)
    return console.export_text()


EXPECTED = ("telemetry: 6 values not understood (tegrastats: NEWENG x3, (line) x1, GR3D_X x1, VDD_NEW x1) — not shown "
            "as measurements")


def test_counts_merge_over_rows_most_frequent_first_on_one_line():
    record = _with_unparsed({"fp32": {"NEWENG": 2, "GR3D_X": 1}, "int8": {"NEWENG": 1, "(line)": 1, "VDD_NEW": 1}})
    assert unparsed_line(record) == EXPECTED
    out = _printed(record)
    assert out.count("not understood") == 1 and EXPECTED in out.replace("\n", " ")
    # the line sits with the notes under the table, after the rows
    assert out.index("not understood") > out.index("pruned50")


def test_the_report_shows_the_same_line_in_markdown_and_html(tmp_path):
    record = _with_unparsed({"fp32": {"NEWENG": 2, "GR3D_X": 1}, "int8": {"NEWENG": 1, "(line)": 1, "VDD_NEW": 1}})
    files = write_report([(record, None)], tmp_path)
    md, page = files.markdown.read_text(), html.unescape(files.html.read_text())
    assert md.count("not understood") == 1 and EXPECTED in md
    assert page.count("not understood") == 1 and EXPECTED in page


def test_a_run_without_unparsed_values_has_no_line(tmp_path):
    record = validate_record(make_record(), "test")
    assert unparsed_line(record) is None
    assert "not understood" not in "\n".join(run_table(record).legend)
    assert "not understood" not in _printed(record)
    assert "not understood" not in write_report([(record, None)], tmp_path).markdown.read_text()


def test_the_list_is_capped_and_says_how_many_more():
    fields = {f"F{i:02d}": 10 + i for i in range(UNPARSED_SHOWN + 3)}
    line = unparsed_line(_with_unparsed({"fp32": fields}))
    names = [f"F{i:02d}" for i in range(UNPARSED_SHOWN + 3)][::-1]  # most frequent first
    assert all(f"{n} x" in line for n in names[:UNPARSED_SHOWN])
    assert not any(f"{n} x" in line for n in names[UNPARSED_SHOWN:])
    assert ", +3 more)" in line and line.startswith(f"telemetry: {sum(fields.values())} values not understood")


def test_a_source_that_keeps_its_own_counts_is_named_and_zero_counts_are_no_values():
    raw = make_record()
    raw["variants"][0]["telemetry"] = {"sources": {"tegrastats": {"unparsed_fields": {"NEWENG": 1}},
                                                   "nvml": {"unparsed_fields": {"clock_x": 2}}}}
    raw["variants"][1]["telemetry"] = {"sources": {"psutil": {}}, "unparsed_fields": {"odd": 0}}
    line = unparsed_line(validate_record(raw, "test"))
    assert line == ("telemetry: 3 values not understood (nvml: clock_x x2; tegrastats: NEWENG x1) — not shown as "
                    "measurements")


def test_the_telemetry_summarys_own_output_is_attributed_to_tegrastats():
    from devices.telemetry.summary import build_summary

    summary = build_summary({"tegrastats": [], "psutil": []}, window=(0.0, 1.0), interval_s=0.1,
                            source_info={"tegrastats": {"unparsed_fields": {"NEWENG": 2, "(value)": 1}}})
    raw = make_record()
    raw["variants"][0]["telemetry"] = summary.to_dict()
    assert unparsed_line(validate_record(raw, "test")) == (
        "telemetry: 3 values not understood (tegrastats: NEWENG x2, (value) x1) — not shown as measurements")
