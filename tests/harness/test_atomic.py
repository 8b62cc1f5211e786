"""Atomic writes: the final name holds the old file or the complete new one, never a part, and no leftovers."""

from __future__ import annotations

import stat

import pytest

from common.atomic import atomic_path, write_json_atomic, write_text_atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "record.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_the_temporary_is_beside_the_target_and_can_keep_its_suffix(tmp_path):
    target = tmp_path / "sub" / "clip.mp4"
    with atomic_path(target, keep_suffix=True) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".clip.mp4.") and tmp.suffix == ".mp4"
        assert not target.exists()  # nothing under the final name until the block ends
        tmp.write_bytes(b"frames")
    assert target.read_bytes() == b"frames"
    with atomic_path(tmp_path / "a.onnx") as tmp:
        assert tmp.suffix == ".partial"


def test_json_and_permissions(tmp_path):
    target = write_json_atomic(tmp_path / "m.json", {"b": 1, "a": [1, 2]})
    assert target.read_text() == '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}\n'
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable by others, not mkstemp's 0600
