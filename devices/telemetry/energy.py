"""Energy from power samples: trapezoid integration over the timed window, and counter differences.

Power samples are instantaneous readings at their timestamps; between two samples power is
taken to change linearly (the trapezoid rule), and at the window's edges it is interpolated.
When the samples do not reach an edge, the nearest sample is held for at most ``max_edge_gap_s``
(one sampling interval); a larger gap means the window was not measured and the result is None.

Example:
    >>> integrate_energy([0.0, 1.0, 2.0], [2.0, 4.0, 6.0], 0.5, 1.5)
    4.0
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["integrate_energy", "interpolate_at", "counter_difference"]


def _sorted(times: Sequence[float], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f"times and values must be 1-D of the same length, got {t.shape} and {v.shape}")
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    order = np.argsort(t, kind="stable")
    return t[order], v[order]


def interpolate_at(times: Sequence[float], values: Sequence[float], at: float) -> float | None:
    """Linear interpolation of a sampled series at ``at``; None outside the sampled span."""
    t, v = _sorted(times, values)
    if t.size == 0 or at < t[0] or at > t[-1]:
        return None
    return float(np.interp(at, t, v))


def integrate_energy(
    times: Sequence[float],
    watts: Sequence[float],
    start: float,
    end: float,
    *,
    max_edge_gap_s: float | None = None,
) -> float | None:
    """Energy in joules of a power trace over ``[start, end]`` (trapezoid rule).

    Args:
        times: sample timestamps in seconds (any order; non-finite samples are dropped).
        watts: power in watts at each timestamp.
        start: window start, same clock as ``times``.
        end: window end.
        max_edge_gap_s: how far the first/last sample may be from an edge it does not reach
            (the sample's value is held over the gap); None allows any gap.

    Returns:
        Joules, or None when there are no samples or an edge gap exceeds ``max_edge_gap_s``.

    Example:
        >>> integrate_energy([0.0, 10.0], [5.0, 5.0], 2.0, 4.0)
        10.0
    """
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}")
    t, p = _sorted(times, watts)
    if t.size == 0:
        return None
    if end == start:
        return 0.0
    for gap in (t[0] - start, end - t[-1]):
        if max_edge_gap_s is not None and gap > max_edge_gap_s:
            return None
    # hold the edge samples over any (allowed) gap, then interpolate at the edges
    if t[0] > start:
        t, p = np.concatenate(([start], t)), np.concatenate(([p[0]], p))
    if t[-1] < end:
        t, p = np.concatenate((t, [end])), np.concatenate((p, [p[-1]]))
    inside = (t > start) & (t < end)
    tt = np.concatenate(([start], t[inside], [end]))
    pp = np.concatenate(([np.interp(start, t, p)], p[inside], [np.interp(end, t, p)]))
    return float(np.sum((pp[1:] + pp[:-1]) * 0.5 * np.diff(tt)))


def counter_difference(times: Sequence[float], counter: Sequence[float], start: float, end: float) -> float | None:
    """Increase of a cumulative counter (e.g. NVML's energy in J) between ``start`` and ``end``.

    The counter is interpolated linearly at both edges; None when the samples do not span the window.

    Example:
        >>> counter_difference([0.0, 1.0, 2.0], [100.0, 110.0, 130.0], 0.5, 1.5)
        15.0
    """
    a = interpolate_at(times, counter, start)
    b = interpolate_at(times, counter, end)
    if a is None or b is None:
        return None
    return b - a
