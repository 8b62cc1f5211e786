"""The types every variant kind module uses: :class:`Kind`, :func:`option` (see :mod:`exporters.kinds`).

Kind modules import this module, never the registry package (which imports them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROLES", "Kind", "Option", "option"]

ROLES = ("model", "precision", "format")


@dataclass(frozen=True)
class Option:
    """How one option field is typed, checked and offered on the command line.

    Attributes:
        type: ``int``, ``float``, ``str``, ``bool`` (a flag) or ``Path``.
        help: one line for ``--help``.
        flags: command-line flags, the first one canonical (default ``--<name with dashes>``).
        choices: the allowed values, if a closed set.
        check: a predicate the value must satisfy (None values skip it).
        expect: what the predicate demands, for the error line (``"an epoch count >= 0"``).
        metavar: the value's name in ``--help`` (default by type: FILE, N, X, or the option's name).
    """

    type: type
    help: str
    flags: tuple[str, ...] = ()
    choices: tuple[Any, ...] = ()
    check: Callable[[Any], bool] | None = None
    expect: str = ""
    metavar: str | None = None


def option(type_: type, default: Any, help: str, *, flags: tuple[str, ...] = (), choices: tuple[Any, ...] = (),
           check: Callable[[Any], bool] | None = None, expect: str = "", metavar: str | None = None) -> Any:
    """A dataclass field declaring one kind option (name = the field name).

    Example:
        >>> @dataclass(frozen=True)
        ... class Opts:
        ...     epochs: int = option(int, 10, "epochs", check=lambda v: v >= 0, expect="an epoch count >= 0")
        >>> Opts().epochs
        10
    """
    meta = Option(type_, help, tuple(flags), tuple(choices), check, expect, metavar)
    return field(default=default, metadata={"option": meta})


@dataclass(frozen=True)
class Kind:
    """One registered variant kind.

    Attributes:
        name: the kind's name, as it appears in variant names (``pruned``, ``int8``, ``trt``).
        role: ``model``, ``precision`` or ``format`` (see the module docstring).
        help: one line (the title of its option group in ``--help``).
        options: its frozen options dataclass (fields made with :func:`option`), or None.
        prepare: ``prepare(stage)``: check inputs before any work; None when there is nothing to check.
        build: the builder (signature by role, see the module docstring).
        int8_profile: format kinds: the INT8 ONNX flavour it consumes (``"cpu"``, ``"trt"``).
        precisions: format kinds: the precision kinds it builds (None: every one).
        formats: precision kinds: the format kinds it is built for (None: every one).
    """

    name: str
    role: str
    help: str
    options: type | None = None
    prepare: Callable[[Any], None] | None = None
    build: Callable[..., Any] | None = None
    int8_profile: str | None = None
    precisions: tuple[str, ...] | None = None
    formats: tuple[str, ...] | None = None

    def builds(self, precision: str) -> bool:
        """Format kinds: whether it builds variants of ``precision``."""
        return self.precisions is None or precision in self.precisions
