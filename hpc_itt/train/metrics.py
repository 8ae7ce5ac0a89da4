"""Task metrics. scikit-learn/scipy rather than `evaluate`: `evaluate.load` fetches metric scripts
from the hub at run time, which offline clusters (and CI) cannot do."""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score

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
