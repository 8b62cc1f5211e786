"""Small statistics for comparing runs: Mann-Whitney U and the Pareto front.

Latency samples are not normal (long right tail, several modes from caches and
clocks), so two runs are compared with the rank-based Mann-Whitney U test rather
than a t-test. It tests whether one run's latencies tend to be larger than the
other's; with thousands of samples it flags shifts far smaller than anyone cares
about, and consecutive samples are correlated (thermal drift), which makes
p-values optimistic. That is why :mod:`results.compare` also requires a practical
factor before it calls a change a regression (as asv does).

Example:
    >>> p = mann_whitney_p([10.0, 10.2, 10.1, 9.9, 10.0] * 20, [13.0, 13.1, 12.9, 13.2, 13.0] * 20)
    >>> p < 0.001
    True
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.errors import require

__all__ = ["MIN_SAMPLES", "mann_whitney_p", "pareto_front"]

MIN_SAMPLES = 5
"""Fewer samples than this on either side and no test is made (None): with 4 vs 4
the smallest two-sided p-value possible is 0.029, with 3 vs 3 it is 0.1."""


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value for "a and b come from the same distribution".

    Args:
        a: samples of the first run (e.g. base inference latencies, ms).
        b: samples of the second run.

    Returns:
        The p-value, or None when either side has fewer than :data:`MIN_SAMPLES`
        samples (too few to test), or both are constant and equal (p = 1).

    Example:
        >>> mann_whitney_p([1.0, 2.0], [3.0, 4.0]) is None
        True
    """
    if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES:
        return None
    np = require("numpy")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return 1.0 if x[0] == y[0] else 0.0
    stats = require("scipy.stats", pip="pip install scipy")
    return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (both maximized).

    A point is on the front when no other point is at least as good on both
    coordinates and strictly better on one. Equal points are all on the front.

    Args:
        points: ``(x, y)`` pairs, e.g. ``(mAP50-95, FPS)`` per variant.

    Returns:
        The indices on the front, ordered by increasing x.

    Example:
        >>> pareto_front([(0.50, 100.0), (0.45, 250.0), (0.40, 200.0), (0.52, 60.0)])
        [1, 0, 3]
    """
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (ox >= x and oy >= y) and (ox > x or oy > y) for j, (ox, oy) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))
