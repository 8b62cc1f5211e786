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

import math
from collections.abc import Sequence

from harness.errors import require

__all__ = ["MIN_SAMPLES", "mann_whitney_p", "pareto_front"]

MIN_SAMPLES = 5
"""Fewer samples than this on either side and no test is made (None): with 4 vs 4
the smallest two-sided p-value possible is 0.029, with 3 vs 3 it is 0.1."""


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value for "a and b come from the same distribution".

    Computed as ``scipy.stats.mannwhitneyu(a, b)`` does by default (tests check the two
    agree): the exact distribution of U when one side has at most 8 samples and there
    are no ties, else the normal approximation with tie and continuity corrections.
    Implemented with numpy because importing scipy.stats takes seconds on a Jetson.

    Args:
        a: samples of the first run (e.g. base inference latencies, ms).
        b: samples of the second run.

    Returns:
        The p-value, or None when either side has fewer than :data:`MIN_SAMPLES`
        samples (too few to test).

    Example:
        >>> mann_whitney_p([1.0, 2.0], [3.0, 4.0]) is None
        True
        >>> round(mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), 6)
        0.007937
    """
    if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES:
        return None
    np = require("numpy")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    n1, n2 = x.size, y.size
    values, inverse, counts = np.unique(np.concatenate([x, y]), return_inverse=True, return_counts=True)
    # average rank of each distinct value: ranks before it + (count + 1) / 2
    average = np.cumsum(counts) - counts + (counts + 1) / 2.0
    u1 = float(average[inverse[:n1]].sum()) - n1 * (n1 + 1) / 2.0
    u = max(u1, n1 * n2 - u1)
    ties = bool(np.any(counts > 1))
    if (n1 <= 8 or n2 <= 8) and not ties:
        p = 2.0 * _exact_sf(int(round(u)), n1, n2, np)
    else:
        n = n1 + n2
        tie_term = float(np.sum(counts.astype(np.float64) ** 3 - counts))
        sigma = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))))
        if sigma == 0:  # every value equal: no evidence of a difference
            return 1.0
        z = (u - n1 * n2 / 2.0 - 0.5) / sigma
        p = 2.0 * 0.5 * math.erfc(z / math.sqrt(2.0))
    return min(1.0, max(0.0, p))


def _exact_sf(u: int, n1: int, n2: int, np) -> float:
    """P(U >= u) under the null: U's counts are the coefficients of the Gaussian
    binomial [n1 + n2 choose n1]_q, built as prod_i (1 - q^(n2+i)) / (1 - q^i)."""
    small, large = min(n1, n2), max(n1, n2)
    size = small * large + 1
    poly = np.zeros(size)
    poly[0] = 1.0
    for i in range(1, small + 1):
        shift = large + i
        if shift < size:
            poly[shift:] -= poly[:size - shift].copy()
        for r in range(i):  # divide by (1 - q^i): running sums with stride i
            poly[r::i] = np.cumsum(poly[r::i])
    total = poly.sum()
    return float(poly[u:].sum() / total) if u < size else 0.0


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
