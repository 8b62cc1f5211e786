"""Cache keys, atomic writes and the rules for reusing an artifact."""

from __future__ import annotations

import json
import os

import pytest

from exporters.manifest import (
    MANIFEST_VERSION,
    atomic_path,
    cache_key,
    default_cache_dir,
    manifest_path,
    read_manifest,
    reusable,
    sha256_file,
    tool_versions,
    write_json_atomic,
)
from common.errors import InputError


def test_cache_key_is_canonical():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})
    assert len(cache_key({})) == 64


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "artifacts"  # the one rule bench run uses too
    monkeypatch.delenv("BENCH_CACHE")
    assert default_cache_dir().parts[-3:] == (".cache", "edge-bench", "artifacts")


def test_tool_versions_reads_metadata():
    versions = tool_versions(("onnx", "tensorrt", "no-such-tool"))
    assert versions["onnx"] and versions["no-such-tool"] is None
    assert set(versions) == {"onnx", "tensorrt", "no-such-tool"}


def test_atomic_path_success_and_failure(tmp_path):
    target = tmp_path / "sub" / "model.onnx"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"complete")
    assert target.read_bytes() == b"complete"

    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"complete"  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.onnx"]  # no partial file left


def _artifact_with_manifest(tmp_path, key="k1"):
    art = tmp_path / "a.onnx"
    art.write_bytes(b"0123456789")
    write_json_atomic(manifest_path(art), {
        "manifest_version": MANIFEST_VERSION, "cache_key": key,
        "artifact": {"sha256": sha256_file(art), "size_bytes": 10},
    })
    return art


def test_reusable_only_when_everything_matches(tmp_path):
    art = _artifact_with_manifest(tmp_path)
    assert reusable(art, "k1")["cache_key"] == "k1"
    assert reusable(art, "other-key") is None
    art.write_bytes(b"01234")  # truncated
    assert reusable(art, "k1") is None
    art.write_bytes(b"9876543210")  # same size, other content
    assert reusable(art, "k1") is None
    art.unlink()
    assert reusable(art, "k1") is None


def test_artifact_without_manifest_is_never_reused(tmp_path):
    art = tmp_path / "a.onnx"
    art.write_bytes(b"half-written")
    assert reusable(art, "k1") is None
    assert read_manifest(art) is None


def test_manifest_versions(tmp_path):
    art = _artifact_with_manifest(tmp_path)
    data = json.loads(manifest_path(art).read_text())
    data["manifest_version"] = MANIFEST_VERSION + 1
    manifest_path(art).write_text(json.dumps(data))
    assert read_manifest(art) is None and reusable(art, "k1") is None
    with pytest.raises(InputError, match=r"a\.onnx\.manifest\.json: expected manifest_version 1"):
        read_manifest(art, strict=True)
    manifest_path(art).write_text("{not json")
    with pytest.raises(InputError, match="expected a JSON manifest"):
        read_manifest(art, strict=True)
    os.remove(manifest_path(art))
    with pytest.raises(InputError, match="expected an artifact manifest, got no such file"):
        read_manifest(art, strict=True)


def test_atomic_files_get_normal_permissions(tmp_path):
    target = tmp_path / "m.json"
    write_json_atomic(target, {"a": 1})
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
