"""The timed loop: warm up until stable, then time a run bounded below by a count and a duration.

Definitions (the README quotes them):

* **Warm-up.** ``fn`` is called repeatedly. After at least ``warmup_min`` calls and at least two
  windows of ``stable_window`` calls, the median duration of the last window is compared with the
  median of the window before it; warm-up ends when they differ by less than ``stable_tol``
  (2%) of the earlier median. It also ends, *not* stable, after ``warmup_max_iters`` calls or
  ``warmup_max_s`` seconds, whichever comes first; the result says which happened.
* **Timed run.** ``fn`` is called until at least ``min_iters`` calls *and* at least ``min_seconds``
  seconds have passed. Each sample is the time of one call, read from ``clock`` just before and
  just after it.
* **Statistics** (:class:`LatencyStats`): percentiles use numpy's default ``linear`` method
  (the sorted samples are interpolated linearly, ``p50`` of ``[1, 2, 3, 4]`` is 2.5); ``std`` is the
  sample standard deviation (``ddof=1``; None for a single sample: undefined, not 0); all in milliseconds.
  This is the one definition: the record's stage summaries (:func:`results.record.stage_summary`) use it.
* **FPS** = number of timed calls / the timed window (from the clock reading before the first
  timed call to the one after the last), so loop overhead counts against it.
"""

from __future__ import annotations

import time
from typing import Callable  # not collections.abc: Callable[...] below runs on Python 3.8 (the device side)
from dataclasses import dataclass

import numpy as np

from common.errors import InputError, expected

__all__ = ["LatencyStats", "TimingResult", "check_timing_options", "measure"]

Clock = Callable[[], float]
Progress = Callable[[str, int, float], None]


@dataclass(frozen=True)
class LatencyStats:
    """Summary of latency samples, in milliseconds.

    Attributes:
        p50: median (numpy ``linear`` percentile, as every percentile here).
        p90: 90th percentile.
        p95: 95th percentile.
        p99: 99th percentile.
        max: largest sample.
        mean: arithmetic mean.
        std: sample standard deviation (``ddof=1``; None when ``n == 1``: undefined).
        n: number of samples.

    Example:
        >>> s = LatencyStats.from_samples([1.0, 2.0, 3.0, 4.0])
        >>> s.p50, s.max, s.n
        (2.5, 4.0, 4)
        >>> sorted(s.to_dict())[:3]
        ['max_ms', 'mean_ms', 'n']
    """

    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    mean: float
    std: float | None
    n: int

    @classmethod
    def from_samples(cls, samples_ms) -> LatencyStats:
        """Summarize samples given in milliseconds.

        Raises:
            ValueError: no samples (a caller bug: the timed loop always has at least one).
        """
        a = np.asarray(samples_ms, dtype=np.float64).ravel()
        if a.size == 0:
            raise ValueError("LatencyStats needs at least one sample")
        p50, p90, p95, p99 = np.percentile(a, [50, 90, 95, 99], method="linear")
        return cls(
            p50=float(p50),
            p90=float(p90),
            p95=float(p95),
            p99=float(p99),
            max=float(a.max()),
            mean=float(a.mean()),
            std=float(a.std(ddof=1)) if a.size > 1 else None,
            n=int(a.size),
        )

    def to_dict(self) -> dict:
        """The record form: ``p50_ms, p90_ms, p95_ms, p99_ms, max_ms, mean_ms, std_ms, n``."""
        return {
            "p50_ms": self.p50,
            "p90_ms": self.p90,
            "p95_ms": self.p95,
            "p99_ms": self.p99,
            "max_ms": self.max,
            "mean_ms": self.mean,
            "std_ms": self.std,
            "n": self.n,
        }


@dataclass(frozen=True, eq=False)
class TimingResult:
    """What one :func:`measure` call found.

    Attributes:
        latency: statistics of the timed samples.
        fps: timed calls per second of the timed window (``inf`` only if the clock did not move).
        window_s: length of the timed window in seconds.
        samples_ms: the timed samples in call order (read-only float64 array).
        warmup_iterations: calls made during warm-up.
        warmup_s: seconds spent warming up.
        warmup_stable: True when warm-up ended because the rolling median was stable, False when
            it hit its count or time bound (or was disabled).
    """

    latency: LatencyStats
    fps: float
    window_s: float
    samples_ms: np.ndarray
    warmup_iterations: int
    warmup_s: float
    warmup_stable: bool

    @property
    def n(self) -> int:
        """Number of timed calls."""
        return self.latency.n

    def to_dict(self) -> dict:
        """Statistics plus ``fps``, ``timed_seconds`` and the warm-up outcome (no raw samples)."""
        return {
            **self.latency.to_dict(),
            "fps": self.fps,
            "timed_seconds": self.window_s,
            "warmup_iterations": self.warmup_iterations,
            "warmup_seconds": self.warmup_s,
            "warmup_stable": self.warmup_stable,
        }


def check_timing_options(
    *,
    warmup_min: int,
    warmup_max_iters: int,
    warmup_max_s: float,
    stable_window: int,
    stable_tol: float,
    min_iters: int,
    min_seconds: float,
) -> None:
    """Validate the timed-loop settings once, naming the bad one.

    Raises:
        InputError: a setting is out of range.

    Example:
        >>> check_timing_options(warmup_min=5, warmup_max_iters=200, warmup_max_s=10.0,
        ...                      stable_window=10, stable_tol=0.02, min_iters=50, min_seconds=2.0)
    """

    def _int(name: str, value, low: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(expected(f"an integer >= {low}", value, name))

    def _num(name: str, value, *, positive: bool = False) -> None:
        bad = isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
        if bad or not np.isfinite(value) or value < 0 or (positive and value == 0):
            raise InputError(expected("a positive number" if positive else "a number >= 0", value, name))

    _int("warmup_min", warmup_min, 0)
    _int("warmup_max_iters", warmup_max_iters, 0)
    if warmup_max_iters < warmup_min:
        raise InputError(expected(f"warmup_max_iters >= warmup_min ({warmup_min})", warmup_max_iters, "warmup_max_iters"))
    _num("warmup_max_s", warmup_max_s)
    _int("stable_window", stable_window, 1)
    _num("stable_tol", stable_tol, positive=True)
    _int("min_iters", min_iters, 1)
    _num("min_seconds", min_seconds)


def _warm_up(fn, *, warmup_min, warmup_max_iters, warmup_max_s, stable_window, stable_tol, clock, progress):
    durations: list[float] = []
    start = clock()
    now = start
    need = max(warmup_min, 2 * stable_window)
    while len(durations) < warmup_max_iters and now - start < warmup_max_s:
        t0 = clock()
        fn()
        now = clock()
        durations.append(now - t0)
        if progress is not None:
            progress("warmup", len(durations), now - start)
        if len(durations) >= need:
            last = float(np.median(durations[-stable_window:]))
            prev = float(np.median(durations[-2 * stable_window : -stable_window]))
            if last == prev or abs(last - prev) < stable_tol * prev:
                return len(durations), now - start, True
    return len(durations), now - start, False


def measure(
    fn: Callable[[], object],
    *,
    warmup_min: int = 5,
    warmup_max_iters: int = 200,
    warmup_max_s: float = 10.0,
    stable_window: int = 10,
    stable_tol: float = 0.02,
    min_iters: int = 50,
    min_seconds: float = 2.0,
    clock: Clock = time.perf_counter,
    progress: Progress | None = None,
) -> TimingResult:
    """Warm ``fn`` up until its duration is stable, then time it (see the module docstring).

    Args:
        fn: the work to time, called with no arguments.
        warmup_min: at least this many warm-up calls.
        warmup_max_iters: at most this many warm-up calls (0 disables warm-up).
        warmup_max_s: stop warming up after this many seconds.
        stable_window: calls per window of the rolling median.
        stable_tol: warm-up is stable when consecutive window medians differ by less than this
            fraction.
        min_iters: the timed run makes at least this many calls...
        min_seconds: ... and lasts at least this long.
        clock: monotonic clock in seconds (inject a fake one in tests).
        progress: called as ``progress(phase, calls_so_far, seconds_so_far)`` after every call,
            ``phase`` being ``"warmup"`` or ``"timed"`` (for progress bars).

    Returns:
        The :class:`TimingResult`.

    Raises:
        InputError: a setting is out of range.

    Example:
        >>> t = [0.0]
        >>> def work():
        ...     t[0] += 0.004  # a fake clock: every call takes 4 ms
        >>> r = measure(work, min_iters=10, min_seconds=0, clock=lambda: t[0])
        >>> r.warmup_iterations, r.warmup_stable, r.n, round(r.latency.p50, 6), round(r.fps, 3)
        (20, True, 10, 4.0, 250.0)
    """
    check_timing_options(
        warmup_min=warmup_min,
        warmup_max_iters=warmup_max_iters,
        warmup_max_s=warmup_max_s,
        stable_window=stable_window,
        stable_tol=stable_tol,
        min_iters=min_iters,
        min_seconds=min_seconds,
    )
    warm_n, warm_s, stable = _warm_up(
        fn,
        warmup_min=warmup_min,
        warmup_max_iters=warmup_max_iters,
        warmup_max_s=warmup_max_s,
        stable_window=stable_window,
        stable_tol=stable_tol,
        clock=clock,
        progress=progress,
    )
    samples: list[float] = []
    start = clock()
    now = start
    while len(samples) < min_iters or now - start < min_seconds:
        t0 = clock()
        fn()
        now = clock()
        samples.append(now - t0)
        if progress is not None:
            progress("timed", len(samples), now - start)
    window = now - start
    samples_ms = np.asarray(samples, dtype=np.float64) * 1e3
    samples_ms.setflags(write=False)
    return TimingResult(
        latency=LatencyStats.from_samples(samples_ms),
        fps=len(samples) / window if window > 0 else float("inf"),
        window_s=window,
        samples_ms=samples_ms,
        warmup_iterations=warm_n,
        warmup_s=warm_s,
        warmup_stable=stable,
    )
