"""Task metrics, on the project's one scale: every score a head returns, result.json stores,
TensorBoard logs and the statistics compare is a fraction (accuracy 0.78, not 78; correlations
-1..1). Reports that follow a benchmark's convention (XTREME-R's 0-100) convert when they show
them (`percent`). scikit-learn/scipy rather than `evaluate`: `evaluate.load` fetches metric
scripts from the hub at run time, which offline clusters (and CI) cannot do."""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score

SCALE = "fraction"  # recorded in the settings of cells whose metrics were once stored 0-100
PRIMARY = {"classification": "accuracy", "regression": "pearson"}


def compute(kind: str, predictions, labels) -> dict[str, float]:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if kind == "regression":
        return {"pearson": _corr(stats.pearsonr, predictions, labels),
                "spearman": _corr(stats.spearmanr, predictions, labels),
                "mse": float(np.mean((predictions - labels) ** 2))}
    return {"accuracy": float(accuracy_score(labels, predictions)),
            "macro_f1": float(f1_score(labels, predictions, average="macro"))}


def _corr(fn, a, b) -> float:
    if len(a) < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return 0.0  # undefined for constant input; a collapsed regressor scores no correlation
    return float(fn(a, b)[0])


def predictions_from_logits(kind: str, logits: np.ndarray) -> np.ndarray:
    return logits[:, 0] if kind == "regression" else logits.argmax(axis=-1)


def from_percent(scores: dict[str, float]) -> dict[str, float]:
    """A 0-100 metric table (an official script's) on the project's scale."""
    return {name: value / 100.0 for name, value in scores.items()}


def percent(scores: dict[str, float]) -> dict[str, float]:
    """Stored scores shown on a 0-100 scale (rounded to 10 decimals: 0.56 shows as 56.0, not
    56.00000000000001; far below any score's resolution)."""
    return {name: round(100.0 * value, 10) for name, value in scores.items()}
