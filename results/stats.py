"""Small statistics for comparing runs: time blocks, Mann-Whitney U, the Pareto front.

Latency samples are not normal (long right tail, several modes from caches and
clocks), so two runs are compared with the rank-based Mann-Whitney U test rather
than a t-test. Applied to the raw samples it is worthless on a shared machine:
with thousands of samples it flags shifts far smaller than anyone cares about,
and consecutive samples are not independent (contention from other processes
comes in bursts lasting seconds, so a run's samples move together). That is why
:mod:`results.compare` tests *block statistics* instead: each run's timed samples,
in the order they were taken, are cut into :data:`BLOCKS` time-contiguous blocks
(:func:`block_values`), each block is summarised (median, p99, frames per
second), and the test compares those few values. A burst of contention then
moves a few block values and widens the evidence instead of manufacturing
certainty; :func:`spread` says how far a run's own blocks disagree.

Example:
    >>> p = mann_whitney_p([10.0, 10.2, 10.1, 9.9, 10.0] * 20, [13.0, 13.1, 12.9, 13.2, 13.0] * 20)
    >>> p < 0.001
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from common.errors import require

__all__ = ["BLOCKS", "DEFAULT_FACTOR", "MIN_BLOCK_SIZE", "MIN_BLOCKS", "MIN_SAMPLES", "P99_MIN_SAMPLES", "block_values", "is_sorted",
           "mann_whitney_p", "pareto_front", "spread"]

DEFAULT_FACTOR = 1.10
"""Speed changes smaller than this ratio never gate (asv compare's default); a run whose own time
blocks spread beyond it is too noisy to resolve such a change (:mod:`results.compare`) and its row
is marked *unstable* (:mod:`results.validity`)."""

MIN_SAMPLES = 5
"""Fewer samples than this on either side and no test is made (None): with 4 vs 4
the smallest two-sided p-value possible is 0.029, with 3 vs 3 it is 0.1."""


BLOCKS = 10
"""Time-contiguous blocks a run's timed samples are cut into (the default 3 s run: 0.3 s each)."""
MIN_BLOCK_SIZE = 5
"""Fewer samples than this per block and the run is cut into fewer blocks."""
MIN_BLOCKS = 5
"""Fewer blocks than this and no test is made: 5 against 5 is the smallest pair whose exact
Mann-Whitney U can reach p < 0.01."""

P99_MIN_SAMPLES = 1000
"""Fewer timed samples than this in either run and a p99 change is shown but not judged: cut into
10 blocks, each block needs 100 samples for its 99th percentile to sit above one sample, else a
block's "p99" is just its slowest frame (a 3 s run of a 50 FPS model has 150 samples: 15 per block)."""

STATISTICS = ("median", "p99", "fps")


def block_values(samples_ms: Sequence[float], statistic: str, blocks: int = BLOCKS) -> list[float]:
    """One value per time-contiguous block of ``samples_ms`` (kept in the order taken).

    The samples are cut into ``k = min(blocks, len // MIN_BLOCK_SIZE)`` consecutive blocks
    whose sizes differ by at most one (earlier blocks take the remainder), and each block is
    summarised by ``statistic``: ``"median"``, ``"p99"`` (numpy's linear interpolation) or
    ``"fps"`` (frames per second of the block: its sample count over its summed latency, i.e.
    the run's FPS restricted to that stretch of time).

    Args:
        samples_ms: latencies in milliseconds, in the order they were measured.
        statistic: one of ``"median"``, ``"p99"``, ``"fps"``.
        blocks: the number of blocks wanted.

    Returns:
        The block values in time order; empty when there are fewer than
        ``MIN_BLOCKS * MIN_BLOCK_SIZE`` samples (too few to cut).

    Example:
        >>> block_values([10.0] * 25 + [20.0] * 25, "median")
        [10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 20.0, 20.0]
        >>> block_values([10.0] * 20, "median")
        []
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    if not 1 <= blocks:
        raise ValueError(f"blocks must be >= 1, not {blocks!r}")
    np = require("numpy")
    x = np.asarray(samples_ms, dtype=np.float64)
    k = min(blocks, x.size // MIN_BLOCK_SIZE)
    if k < MIN_BLOCKS:
        return []
    out = []
    for part in np.array_split(x, k):
        if statistic == "median":
            out.append(float(np.median(part)))
        elif statistic == "p99":
            out.append(float(np.percentile(part, 99)))
        else:
            total = float(part.sum())
            out.append(1000.0 * part.size / total if total > 0 else float("inf"))
    return out


def spread(values: Sequence[float]) -> float | None:
    """How far a run's block values disagree: their 90th over their 10th percentile (>= 1).

    Percentiles use numpy's linear interpolation, so with 10 blocks this is close to the
    second slowest over the second fastest block: one odd block (a one-second hiccup) barely
    counts, a stretch of several does. A spread of 1.3 means the run itself moved by 1.3x
    within seconds; a change between two runs smaller than that is within what the machine
    did on its own.

    Example:
        >>> round(spread([10.0] * 9 + [30.0]), 3)
        1.2
        >>> round(spread([10.0] * 6 + [20.0] * 4), 3)
        2.0
        >>> spread([]) is None
        True
    """
    if not values:
        return None
    np = require("numpy")
    lo, hi = (float(x) for x in np.percentile(np.asarray(values, dtype=np.float64), [10, 90]))
    if lo <= 0:
        return None if hi <= 0 else float("inf")
    return hi / lo


def is_sorted(samples: Sequence[float]) -> bool:
    """True when the samples are in non-decreasing or non-increasing order (time order lost).

    Real latencies in call order are never monotonic over more than a handful of samples.

    Example:
        >>> is_sorted([1.0, 2.0, 2.0, 5.0]), is_sorted([1.0, 3.0, 2.0])
        (True, False)
    """
    samples = list(samples)
    pairs = list(zip(samples, samples[1:]))
    if len(samples) <= 2 or len(set(samples)) == 1:  # constant: no order to lose
        return False
    return all(a <= b for a, b in pairs) or all(a >= b for a, b in pairs)


def mann_whitney_p(a: Sequence[float], b: Sequence[float], *, exact: bool = False) -> float | None:
    """Two-sided Mann-Whitney U p-value for "a and b come from the same distribution".

    Computed as ``scipy.stats.mannwhitneyu(a, b)`` does by default (tests check the two
    agree): the exact distribution of U when one side has at most 8 samples and there
    are no ties, else the normal approximation with tie and continuity corrections.
    ``exact=True`` uses the exact distribution whenever there are no ties (as
    ``method="exact"``), which is what a test on a few block values wants: the normal
    approximation is conservative there (10 against 10 completely separated: exact
    p = 1.1e-5, approximation 1.8e-4).
    Implemented with numpy because importing scipy.stats takes seconds on a Jetson.

    Args:
        a: samples of the first run (e.g. base inference latencies, ms).
        b: samples of the second run.
        exact: use the exact distribution for any sizes when there are no ties (its cost
            grows as len(a) * len(b) * min(len): meant for tens of values, not thousands).

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
    if (exact or n1 <= 8 or n2 <= 8) and not ties:
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
