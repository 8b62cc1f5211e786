"""Artifact manifests, cache keys and atomic writes.

Every artifact ``X.onnx`` / ``X.engine`` / ``X.pt`` has a JSON manifest ``X.onnx.manifest.json`` beside it.
The manifest is written *after* the artifact has been renamed into place, so it is the commit
marker: an artifact without a matching manifest (same cache key, same SHA-256) is never reused.

Manifest format versions:

* 1 -- ``manifest_version``, ``cache_key``, ``artifact`` (file, format, sha256, size_bytes), ``variant``,
  ``source``, ``tools``, ``input``, ``output``, ``names``, ``params``, ``gflops`` and per-kind sections
  (``onnx``, ``quantization``, ``pruning``, ``tensorrt``), ``created``, ``build_seconds``.

Example:
    >>> key = cache_key({"source": "ab12", "variant": "int8", "imgsz": 320})
    >>> len(key)
    64
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from common.atomic import atomic_path, write_json_atomic
from common.errors import InputError, expected

__all__ = [
    "MANIFEST_VERSION",
    "Artifact",
    "atomic_path",
    "cache_key",
    "default_cache_dir",
    "manifest_path",
    "read_manifest",
    "reusable",
    "sha256_file",
    "tool_versions",
    "write_json_atomic",
]

MANIFEST_VERSION = 1
_MANIFEST_SUFFIX = ".manifest.json"
# distribution names whose versions go into manifests (and, per variant, into cache keys)
TOOL_DISTRIBUTIONS = {
    "edge-bench": "edge-bench",
    "ultralytics": "ultralytics",
    "torch": "torch",
    "onnx": "onnx",
    "onnxslim": "onnxslim",
    "onnxruntime": "onnxruntime",
    "torch-pruning": "torch-pruning",
    "tensorrt": "tensorrt",
    "openvino": "openvino",  # OpenVINO IRs and NNCF INT8: a build's numerics depend on both versions
    "nncf": "nncf",
}


@dataclass(frozen=True)
class Artifact:
    """A built variant: the file and its manifest.

    Attributes:
        path: the artifact (``.onnx``, ``.engine`` or ``.pt``).
        manifest: the parsed manifest (see the module docstring).
        reused: True when the artifact came from the cache without rebuilding.
    """

    path: Path
    manifest: dict = field(hash=False, compare=False)
    reused: bool = False

    @property
    def manifest_path(self) -> Path:
        """Where the manifest is stored."""
        return manifest_path(self.path)


def default_cache_dir() -> Path:
    """Where artifacts are cached: :func:`common.paths.artifacts_dir` (the one rule, shared with ``bench run``)."""
    from common.paths import artifacts_dir

    return artifacts_dir()


def manifest_path(artifact: Path) -> Path:
    """``model.onnx`` -> ``model.onnx.manifest.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + _MANIFEST_SUFFIX)


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file (the one implementation: :func:`common.hashing.file_sha256`)."""
    from common.hashing import file_sha256

    return file_sha256(path)


def tool_versions(names: tuple[str, ...] | None = None) -> dict[str, str | None]:
    """Installed versions of the export tools, read from package metadata (nothing heavy is imported).

    Args:
        names: which tools (keys of ``TOOL_DISTRIBUTIONS``); all of them by default.

    Returns:
        ``{tool: version or None when not installed}``.

    Example:
        >>> "onnx" in tool_versions(("onnx",))
        True
    """
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in names or tuple(TOOL_DISTRIBUTIONS):
        dist = TOOL_DISTRIBUTIONS.get(name, name)
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cache_key(payload: Mapping) -> str:
    """SHA-256 of the canonical JSON of everything an artifact depends on."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def read_manifest(artifact: Path, *, strict: bool = False) -> dict | None:
    """Read the manifest of ``artifact``.

    Args:
        artifact: the artifact path (the manifest is looked up beside it).
        strict: raise :class:`InputError` for a missing, unreadable or wrong-version manifest instead
            of returning ``None`` (the cache treats those as "rebuild").

    Returns:
        The manifest dict, or ``None`` when absent/unusable and not ``strict``.
    """
    path = manifest_path(artifact)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        if strict:
            raise InputError(expected("an artifact manifest", "no such file", str(path))) from None
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        if strict:
            raise InputError(expected("a JSON manifest", f"{type(exc).__name__}: {exc}", str(path))) from None
        return None
    version = data.get("manifest_version") if isinstance(data, dict) else None
    if version != MANIFEST_VERSION:
        if strict:
            hint = "rebuild it with this version of bench" if isinstance(version, int) else "rebuild it"
            raise InputError(expected(f"manifest_version {MANIFEST_VERSION} ({hint})", version, str(path)))
        return None
    return data


def reusable(artifact: Path, key: str) -> dict | None:
    """The manifest of ``artifact`` if it can be reused for ``key``, else ``None``.

    Reusable means: the manifest exists with the current version and the same cache key, and the
    artifact on disk has the size and SHA-256 the manifest recorded (a truncated or replaced file
    is rebuilt).
    """
    artifact = Path(artifact)
    manifest = read_manifest(artifact)
    if manifest is None or manifest.get("cache_key") != key or not artifact.is_file():
        return None
    recorded = manifest.get("artifact", {})
    if artifact.stat().st_size != recorded.get("size_bytes"):
        return None
    if sha256_file(artifact) != recorded.get("sha256"):
        return None
    return manifest
