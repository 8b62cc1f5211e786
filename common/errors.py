"""The error types every part of bench raises for problems the user can fix.

Only :mod:`harness.cli` turns them into an exit status: a :class:`BenchError`
prints one line on stderr and exits 2, never a traceback.

One template for messages: what was expected, what was found, where::

    raise InputError(expected("a class index in 0..4", "7", "labels/img3.txt line 2"))

What is worth saying but not worth stopping for is one :func:`warn` line on stderr.
"""

from __future__ import annotations

import sys

__all__ = ["BenchError", "InputError", "MissingDependency", "expected", "require", "warn"]


class BenchError(Exception):
    """A problem with the user's input or environment, reported as one line (exit 2)."""


class InputError(BenchError):
    """Bad input: a file, an argument or a value that is not what was expected."""


class MissingDependency(BenchError):
    """An optional dependency is not importable; the message names what to install."""


def expected(what: str, got: object, where: str | None = None) -> str:
    """Format the one-line message template.

    Args:
        what: what was expected, e.g. ``"a JSON list of detections"``.
        got: what was found (formatted with ``str``; long values are shortened).
        where: the file, line, record index or argument the problem is in.

    Returns:
        ``"<where>: expected <what>, got <got>"``.

    Example:
        >>> expected("a positive width", "-3.0", "preds.json record 12")
        'preds.json record 12: expected a positive width, got -3.0'
    """
    text = str(got)
    if len(text) > 120:
        text = text[:117] + "..."
    message = f"expected {what}, got {text}"
    return f"{where}: {message}" if where else message


def require(module: str, *, extra: str | None = None, pip: str | None = None):
    """Import an optional heavy dependency lazily, or raise :class:`MissingDependency`.

    Args:
        module: the module to import, e.g. ``"torch"`` or ``"tensorrt"``.
        extra: the edge-bench extra that provides it, e.g. ``"export"``.
        pip: the exact pip command to suggest instead of the extra.

    Returns:
        The imported module.

    Raises:
        MissingDependency: the module is not importable; the message says what to install.

    Example:
        >>> np = require("numpy")
        >>> np.__name__
        'numpy'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if pip is None:
            pip = f"pip install 'edge-bench[{extra}]'" if extra else f"pip install {module}"
        raise MissingDependency(
            f"{module} is not importable ({exc.__class__.__name__}: {exc}); install it with: {pip}"
        ) from exc


def warn(message: str) -> None:
    """One warning line on stderr: ``bench: warning: <message>``."""
    print(f"bench: warning: {message}", file=sys.stderr)
