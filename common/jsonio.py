"""Reading the small JSON side files bench writes (a worker's ``artifact.json``, a model's ``.json``).

Writing goes through :func:`common.atomic.write_json_atomic`; this is the one tolerant reader.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "a.json").write_text('{"sha256": "ab"}') and read_json_object(d / "a.json")
    {'sha256': 'ab'}
    >>> read_json_object(d / "missing.json") is None
    True
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["read_json_object"]


def read_json_object(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when the file is missing, unreadable, not JSON or not an object.

    For optional side files whose absence or damage the caller handles (never raises on their content).
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):  # ValueError: bad JSON and bad UTF-8 (UnicodeDecodeError) alike
        return None
    return data if isinstance(data, dict) else None
