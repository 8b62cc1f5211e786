"""`bench report` with a distilled student: both comparisons, labelled, in the Markdown and the HTML."""

from __future__ import annotations

import json

from results.report import write_report
from results.schema import validate_record

from .conftest import DATA


def _record(mutate=None):
    raw = json.loads((DATA / "record_v2.json").read_text())
    if mutate is not None:
        mutate(next(v for v in raw["variants"] if v["name"] == "student"))
    return validate_record(raw, "record_v2.json")


def test_report_shows_both_student_drops_labelled(tmp_path):
    record = _record()
    files = write_report([(record, None)], tmp_path)
    md, page = files.markdown.read_text(), files.html.read_text()
    student = record.variant("student")
    plain, teacher = student.vs_models["plain"], student.vs_models["teacher"]
    section = md[md.index("### Distilled student"):]
    assert (f"| student | vs same-size plain FP32 (fp32 row) | yolo11n | {plain.map_drop_points:+.2f} "
            f"[{plain.map_drop_ci95[0]:+.2f}, {plain.map_drop_ci95[1]:+.2f}]") in section
    assert (f"| student | vs teacher FP32 (teacher row) | yolo11s | {teacher.map_drop_points:+.2f} "
            f"[{teacher.map_drop_ci95[0]:+.2f}, {teacher.map_drop_ci95[1]:+.2f}] | {teacher.map_pct_of_reference:.1f} | "
            f"{teacher.fps_ratio:.2f}x") in section
    assert "<h3>Distilled student</h3>" in page and "vs teacher FP32 (teacher row)" in page


def test_report_says_why_a_comparison_is_missing(tmp_path):
    def mutate(student):
        student["vs_models"]["plain"] = {"reference": None, "label": "vs same-size plain FP32",
                                         "reason": "not comparable: the run's model is yolo11s, the student yolo11n"}
        student["vs_models"]["teacher"] = {"reference": None, "label": "vs teacher FP32",
                                           "reason": "the teacher yolo11s.pt is not shipped; pass --teacher T.pt"}

    md = write_report([(_record(mutate), None)], tmp_path).markdown.read_text()
    results = md[md.index("### Results"):md.index("### Distilled student")]
    row = next(line for line in results.splitlines() if line.startswith("| student |"))
    assert "| not comparable |" in row and row.endswith("| ok (3) |")  # (1) fp16 failed, (2) trt-fp16 skipped
    section = md[md.index("### Distilled student"):]
    assert "the run's model is yolo11s, the student yolo11n" in section and "pass --teacher T.pt" in section


def test_no_student_no_section(tmp_path):
    raw = json.loads((DATA / "record_v1.json").read_text())
    md = write_report([(validate_record(raw, "v1"), None)], tmp_path).markdown.read_text()
    assert "Distilled student" not in md
