"""Block statistics of time-ordered latency samples (what bench compare tests)."""

from __future__ import annotations

import numpy as np
import pytest

from results.stats import BLOCKS, MIN_BLOCK_SIZE, MIN_BLOCKS, block_values, is_sorted, mann_whitney_p, spread


def test_blocks_are_time_contiguous_and_summarised_per_statistic():
    x = np.concatenate([np.full(30, 10.0), np.full(30, 20.0), np.full(40, 10.0)])  # a burst in the middle
    med = block_values(x, "median")
    assert len(med) == BLOCKS and med == [10.0] * 3 + [20.0] * 3 + [10.0] * 4
    fps = block_values(x, "fps")
    assert fps == pytest.approx([100.0] * 3 + [50.0] * 3 + [100.0] * 4)
    y = np.arange(100, dtype=float)
    assert block_values(y, "p99") == pytest.approx([np.percentile(y[i:i + 10], 99) for i in range(0, 100, 10)])
    # the same samples sorted put all the slow ones into the last blocks: order matters
    assert block_values(np.sort(x), "median") == [10.0] * 7 + [20.0] * 3


def test_short_runs_get_fewer_blocks_and_too_short_runs_none():
    assert len(block_values(np.ones(37), "median")) == 37 // MIN_BLOCK_SIZE
    assert len(block_values(np.ones(MIN_BLOCKS * MIN_BLOCK_SIZE), "median")) == MIN_BLOCKS
    assert block_values(np.ones(MIN_BLOCKS * MIN_BLOCK_SIZE - 1), "median") == []
    assert len(block_values(np.ones(5000), "median", blocks=20)) == 20
    with pytest.raises(ValueError):
        block_values(np.ones(100), "mean")


def test_spread_and_sorted_detection():
    assert spread([20.0, 25.0, 22.0]) == pytest.approx(24.4 / 20.4)  # 90th / 10th percentile
    assert spread([10.0] * 9 + [40.0]) == pytest.approx(1.3)  # one odd block barely counts
    assert spread([10.0] * 7 + [20.0] * 3) == pytest.approx(2.0)  # a stretch of three does
    assert spread([0.0, 0.0]) is None
    rng = np.random.default_rng(0)
    x = rng.gamma(4, 2, 300)
    assert not is_sorted(x) and is_sorted(np.sort(x)) and is_sorted(np.sort(x)[::-1])
    assert not is_sorted([3.0] * 50)  # constant samples have no order to lose


def test_a_burst_in_one_run_weakens_the_block_test_instead_of_faking_certainty():
    rng = np.random.default_rng(1)
    base = 20 * (1 + 0.03 * rng.standard_normal(2000))
    cand = 20 * (1 + 0.03 * rng.standard_normal(2000))
    cand[600:1000] *= 1.8  # 20 % of the run in a burst of contention
    raw = mann_whitney_p(base, cand)
    blocks = mann_whitney_p(block_values(base, "median"), block_values(cand, "median"), exact=True)
    assert raw < 1e-6  # thousands of correlated samples: "significant"
    assert blocks > 0.05  # 8 of 10 blocks look like the base: no evidence of a shift
    slower = 20 * 1.6 * (1 + 0.03 * rng.standard_normal(2000))
    assert mann_whitney_p(block_values(base, "median"), block_values(slower, "median"), exact=True) < 1e-4


@pytest.mark.parametrize("seed", range(3))
def test_exact_mann_whitney_on_block_sized_samples_matches_scipy(seed):
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(seed)
    for _ in range(40):
        n1, n2 = int(rng.integers(5, 21)), int(rng.integers(5, 21))
        x, y = rng.gamma(4, 2, n1), rng.gamma(4, 2, n2) * rng.uniform(0.8, 1.4)
        assert mann_whitney_p(x, y, exact=True) == pytest.approx(mannwhitneyu(x, y, method="exact").pvalue,
                                                                 rel=1e-9, abs=1e-300)
