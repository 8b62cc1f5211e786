"""How result numbers read in tables, Markdown and HTML (one place, so they agree).

Not measured is shown as an em dash, never as 0.

Example:
    >>> fps(118.234), ms(4.2), map_(0.5213), ratio(1.3), points(-0.8), ms(None)
    ('118.2', '4.20', '0.521', '1.30x', '-0.80 pts', '—')
    >>> drop(0.43, (-0.1, 0.9)), number(23180), number(0.123456), number(True)
    ('+0.43 [-0.10, +0.90]', '23180', '0.1235', 'yes')
"""

from __future__ import annotations

import math

from results.compare import MetricChange
from results.schema import Variant

__all__ = ["DASH", "NOT_COMPARABLE", "change", "drop", "number", "pct", "not_comparable_detail", "fps", "map_", "metric_cell", "ms", "p_value", "points", "ratio", "status_counts"]

DASH = "—"
# The prefix of a reason that says a comparison cannot be made at all (not merely "not measured").
NOT_COMPARABLE = "not comparable"
METRIC_LABELS = {"fps": "FPS", "p50_ms": "inf p50 ms", "p99_ms": "inf p99 ms", "map50_95": "mAP50-95",
                 "avg_iou": "avg IoU", "batch_fps": "FPS@bN"}
"""Labels of the compared metrics: ``inf`` = the inference call alone, ``e2e`` = one frame end to end."""


def not_comparable_detail(reason: str | None) -> str | None:
    """Why a comparison cannot be made, from a ``"not comparable: <why>"`` reason; None for any other reason.

    Example:
        >>> not_comparable_detail("not comparable: the run's model is yolo12n"), not_comparable_detail("not measured")
        ("the run's model is yolo12n", None)
    """
    text = str(reason or "")
    if not text.startswith(NOT_COMPARABLE):
        return None
    return text[len(NOT_COMPARABLE):].lstrip(": ")


def fps(x: float | None) -> str:
    return DASH if x is None else f"{x:.1f}"


def ms(x: float | None) -> str:
    return DASH if x is None else f"{x:.2f}"


def map_(x: float | None) -> str:
    return DASH if x is None else f"{x:.3f}"


def ratio(x: float | None) -> str:
    return DASH if x is None else f"{x:.2f}x"


def points(x: float | None) -> str:
    return DASH if x is None else f"{x:+.2f} pts"


def pct(x: float | None) -> str:
    return DASH if x is None else f"{x:.1f}"


def drop(points_: float | None, ci: tuple[float, float] | None = None) -> str:
    """The one mAP-drop format: points with sign, and the 95% CI when there is one.

    Example:
        >>> drop(-2.92, (-4.2, -1.6)), drop(0.5), drop(None)
        ('-2.92 [-4.20, -1.60]', '+0.50', '—')
    """
    if points_ is None:
        return DASH
    text = f"{points_:+.2f}"
    if ci is not None and None not in ci:
        text += f" [{ci[0]:+.2f}, {ci[1]:+.2f}]"
    return text


def number(x: object, digits: int = 4) -> str:
    """A measured number as a person reads it: integers as integers (a PID is never ``2.318e+04``),
    other numbers to ``digits`` significant digits without exponent for ordinary sizes, booleans as
    yes/no, anything absent as a dash."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        if 1e-3 <= abs(x) < 1e7:
            decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
            return f"{x:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{x:.0f}"
        return f"{x:.{digits - 1}e}"
    if x is None:
        return DASH
    return str(x)


def value(metric: str, x: float | None) -> str:
    """Format a value of one of the compared metrics."""
    return {"fps": fps, "p50_ms": ms, "p99_ms": ms, "batch_fps": fps}.get(metric, map_)(x)


def change(m: MetricChange) -> str:
    """The change part of a metric: ratio for speed, difference for accuracy."""
    if m.change is None:
        return DASH
    if m.metric == "map50_95":
        return points(m.change)
    if m.metric == "avg_iou":
        return f"{m.change:+.3f}"
    return ratio(m.change)


def metric_cell(m: MetricChange | None) -> str:
    """``"20.00 → 26.00 (1.30x)"``: base, candidate and the change."""
    if m is None or (m.base is None and m.candidate is None):
        return DASH
    text = f"{value(m.metric, m.base)} → {value(m.metric, m.candidate)}"
    if m.change is not None:
        text += f" ({change(m)})"
    return text


def p_value(m: MetricChange | None) -> str:
    """The Mann-Whitney p-value of a speed metric, or a dash when none was computed."""
    return DASH if m is None or m.p_value is None else f"{m.p_value:.2g}"


def status_counts(variants: tuple[Variant, ...]) -> str:
    """``"3 ok, 1 skipped, 1 failed"`` (zero counts left out)."""
    counts = {s: sum(v.status == s for v in variants) for s in ("ok", "skipped", "failed")}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no variants"
