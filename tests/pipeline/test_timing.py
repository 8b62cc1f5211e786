"""The timed loop with a fake clock: warm-up stopping rules, timed-run bounds, statistics."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from harness.pipeline.timing import LatencyStats, measure


class FakeClock:
    """Time only moves when the work says so: each call of ``work`` takes the next duration."""

    def __init__(self, durations):
        self.now = 0.0
        self.calls = 0
        self._durations = iter(durations)

    def __call__(self) -> float:
        return self.now

    def work(self) -> None:
        self.calls += 1
        self.now += next(self._durations)


def _forever(value):
    while True:
        yield value


def test_constant_work_is_stable_after_two_windows():
    clock = FakeClock(_forever(0.004))
    r = measure(clock.work, warmup_min=5, stable_window=10, min_iters=30, min_seconds=0, clock=clock)
    assert (r.warmup_iterations, r.warmup_stable, r.n) == (20, True, 30)
    assert clock.calls == 50
    assert r.latency.p50 == pytest.approx(4.0) and r.latency.std == pytest.approx(0.0, abs=1e-9)


def test_warmup_min_is_respected_even_when_stable_earlier():
    clock = FakeClock(_forever(0.004))
    r = measure(clock.work, warmup_min=37, stable_window=5, min_iters=1, min_seconds=0, clock=clock)
    assert r.warmup_iterations == 37 and r.warmup_stable


def test_warmup_stops_once_the_rolling_median_settles():
    # call k takes 5 + 40 * 0.7**k ms (caches warming). Durations decrease, so the median of the
    # window ending at call n is the duration of call n-3 and that of the window before is call
    # n-8's; they differ by 40 * 0.7**(n-8) * (1 - 0.7**5) ms, which first falls below 2% of
    # 5 + 40 * 0.7**(n-8) ms when n - 8 = 17, i.e. after call 25.
    durations = [(5 + 40 * 0.7**k) / 1e3 for k in range(1000)]
    clock = FakeClock(iter(durations))
    r = measure(clock.work, warmup_min=1, stable_window=5, warmup_max_iters=500, min_iters=10, min_seconds=0, clock=clock)
    assert (r.warmup_iterations, r.warmup_stable) == (25, True)
    # the timed samples are calls 25..34, none of the warm-up ones
    np.testing.assert_allclose(r.samples_ms, np.array(durations[25:35]) * 1e3)


def test_a_stable_slow_start_is_not_mistaken_for_stable_when_the_window_changes():
    # 25 calls at 10 ms then 5 ms: two windows inside the slow start already agree, so warm-up
    # ends at call 10 (the rule looks at the last two windows only, as documented).
    clock = FakeClock(iter([0.010] * 25 + [0.005] * 100))
    r = measure(clock.work, warmup_min=1, stable_window=5, min_iters=1, min_seconds=0, clock=clock)
    assert (r.warmup_iterations, r.warmup_stable) == (10, True)


def test_tolerance_is_relative_and_strict():
    # durations grow 1.5% every 4 calls, so medians of consecutive 4-call windows are always
    # 1.5% apart: stable at tol 2% as soon as two windows exist, never at tol 1%, which
    # therefore stops at its count bound.
    def pattern():
        for k in range(10_000):
            yield 0.100 * 1.015 ** (k / 4)

    r2 = measure((c := FakeClock(pattern())).work, warmup_min=0, stable_window=4, stable_tol=0.02,
                 min_iters=1, min_seconds=0, clock=c)
    assert (r2.warmup_iterations, r2.warmup_stable) == (8, True)
    r1 = measure((c := FakeClock(pattern())).work, warmup_min=0, stable_window=4, stable_tol=0.01,
                 warmup_max_iters=64, warmup_max_s=1e9, min_iters=1, min_seconds=0, clock=c)
    assert (r1.warmup_iterations, r1.warmup_stable) == (64, False)


def test_warmup_bounded_by_seconds():
    # every call 1 s slower than the last: never stable; 3.5 s bound reached after the 3rd call
    clock = FakeClock(iter(range(1, 10_000)))
    r = measure(clock.work, warmup_min=0, stable_window=2, warmup_max_iters=100, warmup_max_s=3.5,
                min_iters=1, min_seconds=0, clock=clock)
    assert (r.warmup_iterations, r.warmup_stable) == (3, False)
    assert r.warmup_s == pytest.approx(6.0)


def test_warmup_can_be_disabled():
    clock = FakeClock(_forever(0.001))
    r = measure(clock.work, warmup_min=0, warmup_max_iters=0, min_iters=3, min_seconds=0, clock=clock)
    assert (r.warmup_iterations, r.warmup_stable, r.n) == (0, False, 3)


def test_timed_run_bounded_below_by_count_and_by_duration():
    # count binds: 0.125 s calls, 10 calls, 0 s minimum
    c = FakeClock(_forever(0.125))
    r = measure(c.work, warmup_max_iters=0, warmup_min=0, min_iters=10, min_seconds=0, clock=c)
    assert r.n == 10 and r.window_s == pytest.approx(1.25) and r.fps == pytest.approx(8.0)
    # duration binds: 2 s at 0.125 s per call is 16 calls (exact in binary floating point)
    c = FakeClock(_forever(0.125))
    r = measure(c.work, warmup_max_iters=0, warmup_min=0, min_iters=3, min_seconds=2.0, clock=c)
    assert r.n == 16 and r.fps == pytest.approx(8.0)


def test_fps_counts_time_between_calls():
    # the clock also moves 1 ms outside the work on every reading: that overhead lowers FPS
    class Drifting(FakeClock):
        def __call__(self):
            self.now += 0.001
            return self.now

    c = Drifting(_forever(0.010))
    r = measure(c.work, warmup_max_iters=0, warmup_min=0, min_iters=10, min_seconds=0, clock=c)
    assert r.latency.p50 == pytest.approx(11.0)  # t1 - t0 includes one clock step
    assert r.fps == pytest.approx(10 / (10 * 0.012))


def test_percentiles_follow_numpy_linear_definition():
    rng = np.random.default_rng(0)
    ms = rng.permutation(np.arange(1, 101, dtype=float))
    c = FakeClock(iter(ms / 1e3))
    r = measure(c.work, warmup_max_iters=0, warmup_min=0, min_iters=100, min_seconds=0, clock=c)
    s = r.latency
    assert (s.p50, s.p90, s.p95, s.p99) == pytest.approx((50.5, 90.1, 95.05, 99.01))
    assert s.max == pytest.approx(100.0) and s.mean == pytest.approx(50.5)
    assert s.std == pytest.approx(np.sqrt(np.sum((np.arange(1, 101) - 50.5) ** 2) / 99))
    np.testing.assert_allclose(r.samples_ms, ms)  # in call order
    assert not r.samples_ms.flags.writeable
    d = r.to_dict()
    assert set(d) >= {"p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms", "std_ms", "n", "fps",
                      "timed_seconds", "warmup_iterations", "warmup_stable"}


def test_latency_stats_small_cases():
    one = LatencyStats.from_samples([3.0])
    assert (one.p50, one.p99, one.std, one.n) == (3.0, 3.0, None, 1)  # std of one sample: undefined
    assert LatencyStats.from_samples([1.0, 2.0, 3.0, 4.0]).p50 == 2.5
    with pytest.raises(ValueError):
        LatencyStats.from_samples([])
    assert list(one.to_dict()) == ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms", "std_ms", "n"]


def test_progress_reports_each_phase():
    seen = []
    c = FakeClock(_forever(0.001))
    measure(c.work, warmup_min=0, stable_window=1, min_iters=3, min_seconds=0, clock=c,
            progress=lambda phase, n, s: seen.append((phase, n)))
    assert seen == [("warmup", 1), ("warmup", 2), ("timed", 1), ("timed", 2), ("timed", 3)]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"min_iters": 0}, "min_iters: expected an integer >= 1, got 0"),
        ({"stable_window": 0}, "stable_window: expected an integer >= 1"),
        ({"stable_tol": 0}, "stable_tol: expected a positive number"),
        ({"min_seconds": -1}, "min_seconds: expected a number >= 0"),
        ({"warmup_max_s": float("nan")}, "warmup_max_s: expected"),
        ({"warmup_min": 10, "warmup_max_iters": 5}, "warmup_max_iters: expected warmup_max_iters >= warmup_min (10)"),
        ({"min_iters": 2.5}, "min_iters: expected an integer"),
    ],
)
def test_bad_settings_are_one_line(kwargs, fragment):
    with pytest.raises(InputError) as err:
        measure(lambda: None, **kwargs)
    assert fragment in str(err.value)
