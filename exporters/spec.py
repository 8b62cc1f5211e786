"""Variant names: the small grammar ``bench`` accepts for the optimized forms of a model.

Grammar (case-insensitive, surrounding spaces ignored)::

    variant   := base [ "-" precision ]
    base      := "fp32" | "fp16" | "int8" | "bf16"   (the source model itself)
               | "pruned" NN                         (NN % of channels removed, 5 <= NN <= 90)
               | "student"                           (a distilled student checkpoint)
    precision := "fp16" | "int8" | "bf16"            (only after pruned NN or student)

So ``fp32``, ``fp16``, ``int8``, ``bf16``, ``pruned30``, ``pruned30-int8``, ``pruned30-fp16``,
``pruned30-bf16``, ``student``, ``student-int8``, ``student-fp16``, ``student-bf16``. A pruned or
student variant without a precision is FP32. ``bf16`` is the FP32 ONNX run by OpenVINO at its bf16
inference precision (format ``openvino`` only: :mod:`exporters.kinds.bf16`).
The precisions and formats are the registered kinds of those roles (:mod:`exporters.kinds`): the
format is ``onnx`` (ONNX Runtime), ``trt`` (a TensorRT engine built on the target device), ...

Example:
    >>> spec = parse_variant("Pruned30-INT8")
    >>> spec.name, spec.precision, spec.prune_ratio, spec.needs_pytorch
    ('pruned30-int8', 'int8', 0.3, True)
    >>> parse_variant("int8", fmt="trt").fmt
    'trt'
    >>> default_variants("openvino")
    ('fp32', 'fp16', 'bf16', 'int8', 'pruned30')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.errors import InputError, expected
from exporters.kinds import buildable, kinds_of_role

__all__ = [
    "DEFAULT_VARIANTS",
    "FORMATS",
    "PRECISIONS",
    "PRUNE_MAX",
    "PRUNE_MIN",
    "VALID_FORMS",
    "VariantSpec",
    "default_variants",
    "parse_variant",
]

FORMATS = tuple(k.name for k in kinds_of_role("format"))
"""The format kinds' names: what ``--format`` accepts (``onnx``, ``trt``, ...)."""
PRECISIONS = tuple(k.name for k in kinds_of_role("precision"))
"""The precision kinds' names (``fp32``, ``fp16``, ``int8``, ``bf16``)."""
PRUNE_MIN, PRUNE_MAX = 5, 90
VALID_FORMS = (
    "fp32, fp16, int8, prunedNN, prunedNN-fp16, prunedNN-int8, student, student-fp16, student-int8, "
    f"bf16, prunedNN-bf16, student-bf16 (NN = percent of channels removed, {PRUNE_MIN}..{PRUNE_MAX}; bf16: OpenVINO only)"
)
DEFAULT_VARIANTS = ("fp32", "fp16", "int8", "pruned30")
"""The rows of a default ``bench run`` (plus ``student`` with a student, ``bf16`` on OpenVINO: :func:`default_variants`)."""

_ANY, _REDUCED = "|".join(PRECISIONS), "|".join(p for p in PRECISIONS if p != "fp32")
_PATTERN = re.compile(rf"^(?:(?P<plain>{_ANY})|(?P<base>pruned(?P<pct>\d{{1,3}})|student)(?:-(?P<prec>{_REDUCED}))?)$")


@dataclass(frozen=True)
class VariantSpec:
    """One validated variant: what to build from the source model.

    Attributes:
        kind: ``"plain"`` (the source weights), ``"pruned"`` or ``"student"``.
        precision: a precision kind's name: ``"fp32"``, ``"fp16"``, ``"int8"`` or ``"bf16"``.
        fmt: a format kind's name: ``"onnx"``, ``"trt"`` or ``"openvino"``.
        prune_percent: percent of channels removed (pruned variants), else ``None``.
    """

    kind: str
    precision: str
    fmt: str = "onnx"
    prune_percent: int | None = None

    @property
    def name(self) -> str:
        """Canonical variant name, e.g. ``"pruned30-int8"`` (the format is not part of it)."""
        if self.kind == "plain":
            return self.precision
        base = f"pruned{self.prune_percent}" if self.kind == "pruned" else "student"
        return base if self.precision == "fp32" else f"{base}-{self.precision}"

    @property
    def prune_ratio(self) -> float | None:
        """Fraction of channels removed, e.g. ``0.3`` for ``pruned30``."""
        return None if self.prune_percent is None else self.prune_percent / 100

    @property
    def needs_pytorch(self) -> bool:
        """Pruned and student variants need the PyTorch ``.pt`` source, not an ``.onnx``."""
        return self.kind != "plain"

    @property
    def base_name(self) -> str:
        """Name of the FP32 model this variant is derived from: ``"fp32"``, ``"pruned30"`` or ``"student"``."""
        return VariantSpec(self.kind, "fp32", self.fmt, self.prune_percent).name

    def with_(self, *, precision: str | None = None, fmt: str | None = None) -> VariantSpec:
        """A copy with another precision and/or format (validated)."""
        precision = precision or self.precision
        fmt = fmt or self.fmt
        if precision not in PRECISIONS:
            raise InputError(expected(f"a precision in {PRECISIONS}", precision, "precision"))
        if fmt not in FORMATS:
            raise InputError(expected(f"a format in {FORMATS}", fmt, "format"))
        return VariantSpec(self.kind, precision, fmt, self.prune_percent)

    def to_dict(self) -> dict:
        """JSON-ready description, as written into manifests."""
        return {
            "name": self.name,
            "format": self.fmt,
            "kind": self.kind,
            "precision": self.precision,
            "prune_ratio": self.prune_ratio,
        }


def parse_variant(text: str, *, fmt: str = "onnx") -> VariantSpec:
    """Parse a variant name such as ``"pruned30-int8"``.

    Args:
        text: the variant name (see the module docstring for the grammar).
        fmt: a format kind's name (``"onnx"``, ``"trt"``, ``"openvino"``).

    Returns:
        The frozen :class:`VariantSpec`.

    Raises:
        InputError: unknown name, a pruning percentage outside 5..90, or an unknown format.

    Example:
        >>> parse_variant("student-fp16").name
        'student-fp16'
    """
    fmt_clean = str(fmt).strip().lower()
    if fmt_clean not in FORMATS:
        raise InputError(expected(f"a format, one of {', '.join(FORMATS)}", repr(fmt), "--format"))
    clean = str(text).strip().lower()
    match = _PATTERN.match(clean)
    if match is None:
        raise InputError(expected(f"a variant name: {VALID_FORMS}", repr(text), "variant"))
    if match["plain"]:
        return VariantSpec("plain", match["plain"], fmt_clean)
    precision = match["prec"] or "fp32"
    if match["base"] == "student":
        return VariantSpec("student", precision, fmt_clean)
    percent = int(match["pct"])
    if not PRUNE_MIN <= percent <= PRUNE_MAX:
        raise InputError(
            expected(f"a pruning percentage between {PRUNE_MIN} and {PRUNE_MAX}", f"{percent} in {text!r}", "variant")
        )
    return VariantSpec("pruned", precision, fmt_clean, percent)


def default_variants(fmt: str) -> tuple[str, ...]:
    """The variants of a default ``bench run`` whose rows run artifacts of format ``fmt``.

    :data:`DEFAULT_VARIANTS`, and ``bf16`` (after ``fp16``) where ``fmt`` builds it (OpenVINO's format):
    an ONNX Runtime or TensorRT table gains no row that could only be skipped.

    Example:
        >>> default_variants("onnx")
        ('fp32', 'fp16', 'int8', 'pruned30')
    """
    names = list(DEFAULT_VARIANTS)
    if buildable("bf16", fmt):
        names.insert(names.index("fp16") + 1, "bf16")
    return tuple(names)
