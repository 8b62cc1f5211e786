"""Schema version 2: a distilled student's rows carry their source model and their drops against the
same-size plain model's FP32 and the teacher's FP32; version-1 records migrate unchanged."""

from __future__ import annotations

import json

import pytest

from common.errors import InputError
from results.archive import load_record
from results.record import variant_entry
from results.schema import SCHEMA_VERSION, validate_record

from .conftest import DATA


def _v2() -> dict:
    return json.loads((DATA / "record_v2.json").read_text())


def test_frozen_v2_example_content():
    record = load_record(DATA / "record_v2.json")
    assert record.schema_version == SCHEMA_VERSION == 2
    assert [v.name for v in record.variants][-2:] == ["student", "teacher"]
    student, teacher = record.variant("student"), record.variant("teacher")
    assert student.source_model.role == "student" and student.source_model.arch == "yolo11n"
    assert teacher.source_model.role == "teacher" and teacher.source_model.name == "yolo11s"
    plain, vs_teacher = student.vs_models["plain"], student.vs_models["teacher"]
    assert plain.reference == "fp32" and plain.map_drop_points == student.vs_reference.map_drop_points
    assert vs_teacher.reference == "teacher" and vs_teacher.map_drop_ci95[0] <= vs_teacher.map_drop_points
    assert vs_teacher.fps_ratio == pytest.approx(student.timing.fps / teacher.timing.fps)
    assert record.variant("fp32").vs_models == {} and record.variant("fp32").source_model is None


def test_v1_record_migrates_without_student_fields():
    raw = json.loads((DATA / "record_v1.json").read_text())
    record = validate_record(raw, "v1.json")
    assert record.schema_version == 2 and raw["schema_version"] == 1  # the caller's dict is left alone
    assert all(v.vs_models == {} and v.source_model is None for v in record.variants)
    assert record.to_dict()["schema_version"] == 2


BAD = [
    (lambda s: s["vs_models"]["teacher"].update(reference="teacher-fp32"),
     "vs_models.teacher.reference: expected the name of a variant"),
    (lambda s: s["vs_models"]["teacher"].update(reference=None, reason=None),
     "vs_models.teacher.reason: expected a non-empty string"),
    (lambda s: s["vs_models"].update(pruned=s["vs_models"]["plain"]), "vs_models: expected only the keys"),
    (lambda s: s["vs_models"]["plain"].update(fps_ratio=-1.0), "vs_models.plain.fps_ratio: expected a number > 0"),
    (lambda s: s["vs_models"]["plain"].update(map_drop_ci95=[1.0, 0.0]), "map_drop_ci95: expected low <= high"),
    (lambda s: s["vs_models"]["plain"].pop("label"), "vs_models.plain: expected a key 'label'"),
    (lambda s: s["source_model"].update(sha256="x"), "source_model.sha256: expected a SHA-256"),
    (lambda s: s["source_model"].update(role="baseline"), "source_model.role: expected a role in"),
]


@pytest.mark.parametrize("mutate, message", BAD)
def test_invalid_student_fields_name_the_json_path(mutate, message):
    raw = _v2()
    mutate(next(v for v in raw["variants"] if v["name"] == "student"))
    with pytest.raises(InputError) as info:
        validate_record(raw, "ex.json")
    assert str(info.value).startswith("ex.json at variants[5]") and message in str(info.value)


def test_a_comparison_that_could_not_be_made_keeps_its_reason():
    raw = _v2()
    student = next(v for v in raw["variants"] if v["name"] == "student")
    student["vs_models"]["plain"] = {"reference": None, "label": "vs same-size plain FP32",
                                     "reason": "not comparable: the run's model is yolo11s, the student yolo11n"}
    record = validate_record(raw, "ex.json")
    plain = record.variant("student").vs_models["plain"]
    assert plain.reference is None and plain.map_drop_points is None and plain.reason.startswith("not comparable")


def test_builder_writes_student_fields_only_when_given():
    plain = variant_entry(name="fp32", format="onnx", precision="fp32")
    assert "vs_models" not in plain and "source_model" not in plain
    entry = variant_entry(name="student", format="onnx", precision="fp32",
                          source_model={"role": "student", "name": "s", "sha256": "ab" * 32},
                          vs_models={"teacher": {"reference": None, "label": "vs teacher FP32", "reason": "none"}})
    assert entry["source_model"]["name"] == "s" and entry["vs_models"]["teacher"]["reason"] == "none"
