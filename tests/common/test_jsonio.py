"""common.jsonio: the one tolerant reader of bench's JSON side files (was a copy in harness/student and harness/worker)."""

from __future__ import annotations

import pytest

from common.jsonio import read_json_object


def test_an_object_is_read(tmp_path):
    path = tmp_path / "artifact.json"
    path.write_text('{"artifact": {"sha256": "ab"}, "n": 2}')
    assert read_json_object(path) == {"artifact": {"sha256": "ab"}, "n": 2}
    assert read_json_object(str(path)) == read_json_object(path)


@pytest.mark.parametrize("content", [None, "", "{broken", "[1, 2]", "3", b"\xff\xfe{}"])
def test_missing_damaged_or_not_an_object_is_none(tmp_path, content):
    path = tmp_path / "side.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert read_json_object(path) is None


def test_a_folder_is_none(tmp_path):
    assert read_json_object(tmp_path) is None


def test_the_harness_reads_side_files_through_it():
    import harness.student as student
    import harness.worker as worker

    assert not hasattr(student, "_read_json") and not hasattr(worker, "_read_json")
    assert student.read_json_object is read_json_object and worker.read_json_object is read_json_object
