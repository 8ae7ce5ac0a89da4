"""hpc_itt.stats on cases computed by hand: Holm's step-down, the percentile bootstrap, the power
and minimal detectable effect of the paired t-test (checked by simulation and against the normal
limit)."""
import numpy as np
import pytest
from scipy import stats as sps

from hpc_itt import stats


def test_holm_by_hand():
    # sorted: a .01 x 3 = .03; c .03 x 2 = .06; b .04 x 1 = .04, raised to .06 (monotone)
    assert stats.holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})
    assert stats.holm({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}  # capped at 1
    assert stats.holm({"only": 0.02}) == {"only": 0.02}  # a family of one is not corrected


def test_bootstrap_by_hand():
    # the mean of 2 values resampled: 0 (p 1/4), 0.5 (1/2), 1 (1/4): the 2.5 and 97.5 percentiles are 0 and 1
    assert stats.bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    assert stats.bootstrap_ci([2.5, 2.5, 2.5]) == (2.5, 2.5)
    assert stats.bootstrap_ci([1.0]) == (None, None)
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    low, high = stats.bootstrap_ci(values, seed=7)
    assert stats.bootstrap_ci(values, seed=7) == (low, high)  # a fixed seed: the same interval every run
    assert 1.0 < low < 3.0 < high < 5.0
    # against the definition: numpy resampling with many draws lands on the same percentiles
    rng = np.random.default_rng(0)
    means = rng.choice(values, size=(200_000, 5)).mean(axis=1)
    assert (low, high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])), abs=0.05)


def test_power_at_the_minimal_detectable_effect_is_80_percent_by_simulation():
    sd, n = 2.0, 5
    effect = stats.minimal_detectable_effect(sd, n)
    assert stats.power(effect, sd, n) == pytest.approx(0.8, abs=1e-6)
    rng = np.random.default_rng(0)
    diffs = rng.normal(effect, sd, size=(40_000, n))
    rejected = sps.ttest_1samp(diffs, 0.0, axis=1).pvalue < stats.ALPHA
    assert rejected.mean() == pytest.approx(0.8, abs=0.01)


def test_minimal_detectable_effect_approaches_the_normal_formula():
    # large n: the t-test's MDE tends to (z_.975 + z_.80) sd / sqrt(n) = 2.8016 / 10 for n = 100, from above
    normal = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) / 10
    assert normal < stats.minimal_detectable_effect(1.0, 100) < 1.015 * normal
    # few seeds: far above it (the t quantile and the estimated sd); 5 seeds need 1.68 sd (simulated above)
    assert stats.minimal_detectable_effect(1.0, 5) == pytest.approx(1.682, abs=2e-3)
    assert stats.minimal_detectable_effect(3.0, 5) == pytest.approx(3 * 1.682, abs=6e-3)  # scales with sd
    assert stats.minimal_detectable_effect(0.0, 5) is None and stats.minimal_detectable_effect(1.0, 1) is None


def test_seeds_needed_is_the_first_n_with_80_percent_power():
    n = stats.seeds_needed(1.0, 1.0)
    assert stats.power(1.0, 1.0, n - 1) < 0.8 <= stats.power(1.0, 1.0, n)
    assert n == 10
    assert stats.seeds_needed(-1.0, 1.0) == n  # the sign of the effect does not matter
    assert stats.seeds_needed(0.0, 1.0) is None
