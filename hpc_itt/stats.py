"""Statistics over seeds shared by every report section: mean ± sample std, the paired t-test over
seeds with the t-interval of the mean difference, Holm's correction across a family of tests, a
seeded bootstrap interval, and the minimal detectable effect of a paired t-test (power)."""
from __future__ import annotations

import math
import statistics
from typing import Hashable

from scipy import stats

ALPHA = 0.05


def arm_stats(arm: str, values: list[float]) -> dict:
    mean = statistics.fmean(values) if values else None
    std = statistics.stdev(values) if len(values) >= 2 else None
    return {f"{arm}_mean": mean, f"{arm}_std": std, f"{arm}_n": len(values)}


def paired(itt: dict[int, float], no_itt: dict[int, float]) -> dict:
    """Paired over seeds (same seed = same head init and data order in both arms): t-test on the
    per-seed differences and the t-interval for their mean. Needs 3 pairs to say anything."""
    seeds = sorted(set(itt) & set(no_itt))
    diffs = [itt[s] - no_itt[s] for s in seeds]
    out = {"paired_n": len(diffs), "ci_low": None, "ci_high": None, "p_value": None}
    if len(diffs) < 3:
        out["verdict"] = "too few seeds" if diffs else "–"
        return out
    mean, sd = statistics.fmean(diffs), statistics.stdev(diffs)
    half = stats.t.ppf(1 - ALPHA / 2, len(diffs) - 1) * sd / math.sqrt(len(diffs))
    p = 1.0 if sd == 0 and mean == 0 else (0.0 if sd == 0 else float(stats.ttest_1samp(diffs, 0.0).pvalue))
    out.update(ci_low=mean - half, ci_high=mean + half, p_value=p)
    out["verdict"] = "not significant" if p >= ALPHA else ("positive" if mean > 0 else "negative")
    return out


def holm(p_values: dict[Hashable, float]) -> dict[Hashable, float]:
    """Holm-Bonferroni adjusted p-values (step-down, kept monotone, capped at 1): reject where the
    adjusted value is below ALPHA, with the family-wise error held at ALPHA. scipy has only
    Benjamini-Hochberg (`false_discovery_control`); statsmodels' `multipletests` would be a large
    dependency for these few lines."""
    order = sorted(p_values, key=lambda k: p_values[k])
    m, running, out = len(order), 0.0, {}
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[key]))
        out[key] = running
    return out


def bootstrap_ci(values: list[float], seed: int = 0, resamples: int = 10_000) -> tuple[float, float] | tuple[None, None]:
    """Percentile bootstrap 95 % interval of the mean (scipy.stats.bootstrap, a fixed seed: the same
    interval on every run). Percentile, not BCa: with 5 seeds BCa's jackknife is degenerate."""
    if len(values) < 2:
        return None, None
    if len(set(values)) == 1:
        return values[0], values[0]
    res = stats.bootstrap((values,), statistics.fmean, confidence_level=1 - ALPHA, n_resamples=resamples,
                          method="percentile", vectorized=False, rng=seed)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def power(effect: float, sd: float, n: int) -> float:
    """Power of the two-sided paired t-test at ALPHA with n pairs, for a true mean difference
    `effect` and a standard deviation of the differences `sd` (noncentral t)."""
    if n < 2 or sd <= 0:
        return float("nan")
    df, nc = n - 1, effect / sd * math.sqrt(n)
    crit = stats.t.ppf(1 - ALPHA / 2, df)
    if nc == 0:  # scipy's noncentral t is NaN at nc = 0: no effect, the test rejects at its level
        return ALPHA
    exact = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    if math.isnan(exact):  # scipy's nct fails far in the tail (e.g. df 99, nc 10): the normal limit
        return float(stats.norm.sf(crit - nc) + stats.norm.cdf(-crit - nc))
    return exact


def minimal_detectable_effect(sd: float, n: int, target: float = 0.8) -> float | None:
    """The smallest mean difference the paired t-test detects with probability `target` (80 %)."""
    from scipy.optimize import brentq

    if n < 2 or not sd or sd <= 0:
        return None
    high = sd
    while power(high, sd, n) < target:  # bracket the root; the noncentral t is NaN far out
        high *= 2
        if high > 1e6 * sd:
            return None
    return float(brentq(lambda e: power(e, sd, n) - target, 0.0, high))


def seeds_needed(effect: float, sd: float, target: float = 0.8, most: int = 1000) -> int | None:
    """The fewest seeds (pairs) at which the paired t-test detects `effect` with probability `target`."""
    if not effect or not sd or sd <= 0:
        return None
    return next((n for n in range(2, most + 1) if power(abs(effect), sd, n) >= target), None)
