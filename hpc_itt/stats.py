"""Statistics over seeds shared by every report section: mean ± sample std, and the paired
t-test over seeds with the t-interval of the mean difference."""
from __future__ import annotations

import math
import statistics

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
