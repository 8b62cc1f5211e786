"""Where bench keeps what it builds: the cache root (exported artifacts, the generated default data)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$BENCH_CACHE`` if set, else ``~/.cache/edge-bench``. Not created here."""
    env = os.environ.get("BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "edge-bench"
