"""Where bench keeps what it builds: ONE cache root, and the folders under it.

Every writer of cached files asks here: ``bench export`` and ``bench run`` share
:func:`artifacts_dir` (so an artifact pre-built with ``bench export`` is reused by ``bench run``),
the generated datasets live in :func:`data_dir`, and runtime caches (ONNX Runtime's TensorRT
engines) in :func:`runtime_cache_dir`.

Example:
    >>> import os
    >>> os.environ["BENCH_CACHE"] = "/tmp/bench-doc-cache"
    >>> str(artifacts_dir()), str(data_dir()), str(runtime_cache_dir("ort-trt"))
    ('/tmp/bench-doc-cache/artifacts', '/tmp/bench-doc-cache/data', '/tmp/bench-doc-cache/ort-trt')
    >>> del os.environ["BENCH_CACHE"]
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["artifacts_dir", "cache_root", "data_dir", "runtime_cache_dir"]


def cache_root() -> Path:
    """``$BENCH_CACHE`` if set, else ``~/.cache/edge-bench``. Not created here."""
    env = os.environ.get("BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "edge-bench"


def artifacts_dir(root: Path | None = None) -> Path:
    """Built variant artifacts: ``<cache root>/artifacts`` (``root`` replaces the cache root)."""
    return Path(root if root is not None else cache_root()) / "artifacts"


def data_dir() -> Path:
    """Generated datasets and videos: ``<cache root>/data``."""
    return cache_root() / "data"


def runtime_cache_dir(name: str) -> Path:
    """A runtime's own cache (e.g. ``ort-trt`` engines): ``<cache root>/<name>``."""
    return cache_root() / name
