"""Atomic file writes: a file appears under its final name complete, or not at all.

Everything bench writes (artifacts, manifests, records, reports, plots, datasets, per-run outputs)
goes through :func:`atomic_path`: the content is written to a temporary file in the same folder,
which is renamed onto the final name (``os.replace``, atomic on POSIX) only when writing succeeded.
An exception or a kill leaves the final name as it was -- the old file, or none -- and an exception
removes the temporary file.

Example:
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('done', ['a.txt'])
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["atomic_path", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


@contextlib.contextmanager
def atomic_path(final: Path, *, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it onto ``final`` only if the block succeeds.

    Args:
        final: the file to write (its folder is created).
        keep_suffix: end the temporary name with ``final``'s suffix, for writers that pick the format
            from the extension (OpenCV's video writer); by default it ends in ``.partial``.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".partial" + (final.suffix if keep_suffix else "")
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; bench's files get the usual permissions
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Mapping, *, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON (plus a final newline) atomically; returns ``path``."""
    return write_text_atomic(path, json.dumps(data, indent=indent, default=str) + "\n")
