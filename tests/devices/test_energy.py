"""Energy integration on synthetic power traces with known integrals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from devices.telemetry.energy import counter_difference, integrate_energy, interpolate_at


def test_constant_power():
    t = np.linspace(0, 10, 101)
    assert integrate_energy(t, np.full_like(t, 7.5), 2.0, 6.0) == pytest.approx(30.0, abs=1e-12)


def test_linear_ramp_is_exact_with_jittered_timestamps_and_window_inside_samples():
    rng = np.random.default_rng(0)
    t = np.sort(np.concatenate([[0.0, 10.0], rng.uniform(0, 10, 97)]))
    p = 2.0 + 3.0 * t  # W
    a, b = 1.234, 8.765
    exact = 2.0 * (b - a) + 1.5 * (b * b - a * a)
    assert integrate_energy(t, p, a, b) == pytest.approx(exact, rel=1e-12)
    # order of samples does not matter
    perm = rng.permutation(t.size)
    assert integrate_energy(t[perm], p[perm], a, b) == pytest.approx(exact, rel=1e-12)


def test_sine_trace_within_trapezoid_error_bound():
    f = lambda t: 10.0 + 5.0 * np.sin(2 * np.pi * t)  # noqa: E731
    a, b, h = 0.3, 3.3, 0.01
    t = np.arange(0.0, 4.0 + h / 2, h)
    exact = 10.0 * (b - a) - 5.0 / (2 * np.pi) * (math.cos(2 * np.pi * b) - math.cos(2 * np.pi * a))
    bound = (b - a) * h * h * 5.0 * (2 * np.pi) ** 2 / 12  # (b-a) h^2 max|f''| / 12
    assert abs(integrate_energy(t, f(t), a, b) - exact) <= bound


def test_square_wave_sampled_at_edges():
    # 2 W for 1 s, 6 W for 1 s, repeated; samples exactly at each transition (both sides)
    t = [0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0]
    p = [2.0, 2.0, 6.0, 6.0, 2.0, 2.0, 6.0, 6.0]
    assert integrate_energy(t, p, 0.0, 4.0) == pytest.approx(16.0)


def test_edges_not_reached_hold_within_gap_else_none():
    t, p = [1.0, 2.0, 3.0], [4.0, 4.0, 4.0]
    assert integrate_energy(t, p, 0.9, 3.05, max_edge_gap_s=0.15) == pytest.approx(4.0 * 2.15)
    assert integrate_energy(t, p, 0.5, 3.0, max_edge_gap_s=0.15) is None
    assert integrate_energy(t, p, 1.0, 3.5, max_edge_gap_s=0.15) is None
    assert integrate_energy(t, p, 0.0, 4.0) == pytest.approx(16.0)  # no limit: held
    assert integrate_energy([], [], 0.0, 1.0) is None
    assert integrate_energy(t, p, 2.0, 2.0) == 0.0
    with pytest.raises(ValueError):
        integrate_energy(t, p, 3.0, 2.0)


def test_non_finite_samples_are_dropped_not_zeroed():
    t = [0.0, 1.0, 2.0, 3.0]
    p = [5.0, float("nan"), 5.0, 5.0]
    assert integrate_energy(t, p, 0.0, 3.0) == pytest.approx(15.0)


def test_counter_difference_and_interpolation():
    t = [0.0, 1.0, 2.0, 3.0]
    joules = [1000.0, 1010.0, 1030.0, 1060.0]
    assert counter_difference(t, joules, 0.5, 2.5) == pytest.approx(1045.0 - 1005.0)
    assert counter_difference(t, joules, -1.0, 2.0) is None
    assert interpolate_at(t, joules, 3.0) == 1060.0 and interpolate_at(t, joules, 3.1) is None


traces = st.lists(st.tuples(st.integers(0, 100_000).map(lambda ms: ms / 1000), st.floats(0, 500, allow_nan=False)),
                  min_size=2, max_size=40, unique_by=lambda x: x[0])


@settings(max_examples=100, deadline=None)
@given(traces, st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_additivity_bounds_and_scaling(trace, u, v, w):
    t, p = map(np.array, zip(*trace))
    lo, hi = float(t.min()), float(t.max())
    assume(hi - lo > 1e-6)
    a, c = sorted((lo + u * (hi - lo), lo + v * (hi - lo)))
    b = a + w * (c - a)
    whole = integrate_energy(t, p, a, c)
    assert whole == pytest.approx(integrate_energy(t, p, a, b) + integrate_energy(t, p, b, c), rel=1e-9, abs=1e-9)
    assert p.min() * (c - a) - 1e-9 <= whole <= p.max() * (c - a) + 1e-9
    assert integrate_energy(t, 3.0 * p, a, c) == pytest.approx(3.0 * whole, rel=1e-9, abs=1e-9)
    assert integrate_energy(t + 5.0, p, a + 5.0, c + 5.0) == pytest.approx(whole, rel=1e-6, abs=1e-6)
