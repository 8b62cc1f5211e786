"""The record validator's checks: each names the file and the JSON path of the problem in one line.

Used by :func:`results.schema.validate_record`, and :func:`check_name` by the archive and the run
loop for every name that becomes a path component (:mod:`results.schema` re-exports it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from common.errors import InputError, expected
from results.schema_types import RELEASE_RE, _freeze

__all__ = ["check_name"]


def check_name(value: object, what: str = "a name", where: str | None = None) -> str:
    """Check a name used as a path component (release, device profile, model, variant).

    Raises:
        InputError: not 1-100 of letters, digits, ``. _ + -`` starting alphanumeric, or has "..".

    Example:
        >>> check_name("v1.2", "a release name", "--release")
        'v1.2'
    """
    if not isinstance(value, str) or not RELEASE_RE.match(value) or ".." in value:
        raise InputError(expected(
            f"{what} of letters, digits and . _ + - (starting with a letter or digit, no '..', "
            "at most 100 characters)", repr(value), where))
    return value


class _Check:
    """Type checks that name the file and the JSON path of the problem."""

    def __init__(self, where: str):
        self.where = where

    def at(self, path: str) -> str:
        return f"{self.where} at {path}" if path else self.where

    def fail(self, what: str, got: object, path: str):
        raise InputError(expected(what, got, self.at(path)))

    def obj(self, value, path: str, keys: tuple[str, ...] | None = None, *, required=()) -> dict:
        if not isinstance(value, dict):
            self.fail("a JSON object", _kind(value), path)
        for key in required:
            if key not in value:
                self.fail(f"a key {key!r}", f"keys {sorted(value)}", path)
        if keys is not None:
            for key in value:
                if key not in keys and key != "extra":
                    self.fail(f"only the keys {list(keys)} (put anything else under 'extra')",
                              repr(key), path)
            if "extra" in value:
                self.obj(value["extra"], f"{path}.extra")
                self.json_values(value["extra"], f"{path}.extra")
        return value

    def string(self, value, path: str, *, null: bool = False, nonempty: bool = False) -> str | None:
        if value is None and null:
            return None
        if not isinstance(value, str) or (nonempty and not value.strip()):
            self.fail("a non-empty string" if nonempty else "a string", _show(value), path)
        return value

    def number(self, value, path: str, *, lo: float | None = None, hi: float | None = None,
               positive: bool = False) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            self.fail("a finite number or null", _show(value), path)
        if positive and value <= 0:
            # a rate or a time of 0 was not measured: it is null, never 0 (and compare divides by it)
            self.fail("a number > 0 or null (not measured)", _show(value), path)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"in [{lo}, {hi}]" if lo is not None and hi is not None else (
                f">= {lo}" if lo is not None else f"<= {hi}")
            self.fail(f"a number {bounds} or null", _show(value), path)
        return float(value)

    def integer(self, value, path: str, *, lo: int = 0, null: bool = True) -> int | None:
        if value is None and null:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            self.fail(f"an integer >= {lo}" + (" or null" if null else ""), _show(value), path)
        return value

    def free(self, value, path: str, *, null: bool = True) -> Mapping | None:
        if value is None and null:
            return None
        self.obj(value, path)
        self.json_values(value, path)
        return _freeze(value)

    def json_values(self, value, path: str) -> None:
        """Free-form content must be plain JSON with finite numbers (NaN cannot be saved)."""
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    self.fail("string keys", _show(k), path)
                self.json_values(v, f"{path}.{k}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                self.json_values(v, f"{path}[{i}]")
        elif isinstance(value, float):
            if not math.isfinite(value):
                self.fail("a finite number or null", _show(value), path)
        elif not (value is None or isinstance(value, (str, int, bool))):
            self.fail("plain JSON values (str, number, bool, null, list, object)", type(value).__name__, path)


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def _show(value) -> str:
    return repr(value) if isinstance(value, (str, int, float)) or value is None else _kind(value)
