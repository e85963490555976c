"""The reference profile a job records, so monitoring never needs the original data.

Per training feature: missing share, mean/std/min/max, `QUANTILES` evenly spaced quantiles (the
quantile sketch from which the Kolmogorov–Smirnov statistic is computed) and a `BINS`-bin histogram
on the training deciles (for the population stability index). The class balance of the training
target, and the same summary of the model's predicted probabilities on the evaluation split.

Why quantiles rather than a sample of rows: the sketch is deterministic, fixed-size whatever the
training size, and holds no training row (a profile travels with the model); the KS statistic it
gives is within about 1/QUANTILES of the one against the full training data (measured in
benchmarks/profile_cost.py), and the p-value uses the real training size (`n`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FILE = "reference_profile.json"
FORMAT = 1
QUANTILES = 200  # quantile sketch size: KS statistic error about 1/QUANTILES
BINS = 10        # PSI bins: the training deciles
TOP_CATEGORIES = 20


def _num(v: float) -> float | None:
    """A compact JSON number (8 significant digits), None for NaN."""
    v = float(v)
    return None if not np.isfinite(v) else float(f"{v:.8g}")


def numeric_summary(values: Any) -> dict[str, Any]:
    """Quantile sketch, decile histogram and moments of one numeric column."""
    x = np.asarray(values, dtype=float)
    missing = float(np.isnan(x).mean()) if len(x) else 0.0
    x = np.sort(x[~np.isnan(x)])  # one sort, then every quantile by interpolation (numpy's 'linear')
    if len(x) == 0:
        return {"kind": "numeric", "n": 0, "missing": missing}
    probs = (np.arange(QUANTILES) + 0.5) / QUANTILES
    edges = np.unique(sorted_quantiles(x, np.arange(1, BINS) / BINS))
    return {
        "kind": "numeric",
        "n": int(len(x)),
        "missing": _num(missing),
        "mean": _num(x.mean()),
        "std": _num(x.std()),
        "min": _num(x.min()),
        "max": _num(x.max()),
        "quantiles": [_num(q) for q in sorted_quantiles(x, probs)],
        "edges": [_num(e) for e in edges],
        "fractions": [_num(f) for f in bin_fractions(x, edges)],
    }


def sorted_quantiles(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """np.quantile(x, probs) for an already sorted `x` (partitioning for 200 quantiles costs far more)."""
    pos = probs * (len(x) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(x) - 1)
    return x[lo] + (x[hi] - x[lo]) * (pos - lo)


def categorical_summary(values: Any) -> dict[str, Any]:
    """Shares of the most frequent categories (the rest pooled as `other`)."""
    s = pd.Series(values).astype("string")
    missing = float(s.isna().mean()) if len(s) else 0.0
    shares = s.dropna().value_counts(normalize=True)
    top = shares.iloc[:TOP_CATEGORIES]
    return {"kind": "categorical", "n": int(s.notna().sum()), "missing": _num(missing),
            "categories": {str(k): _num(v) for k, v in top.items()}, "other": _num(max(0.0, 1 - top.sum()))}


def bin_fractions(x: np.ndarray, edges: Any) -> np.ndarray:
    """Share of `x` in each bin (-inf, e1], (e1, e2], ..., (ek, inf)."""
    idx = np.searchsorted(np.asarray(edges, dtype=float), x, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return counts / max(1, len(x))


def summary(values: Any) -> dict[str, Any]:
    """The summary that suits the column's type (booleans count as numbers)."""
    s = pd.Series(values)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return numeric_summary(s.astype(float))
    return categorical_summary(s)


def probability_columns(proba: np.ndarray, classes: Any) -> dict[str, np.ndarray]:
    """The predicted probabilities monitored: the positive class for binary data, every class otherwise."""
    classes = list(np.asarray(classes))
    if len(classes) == 2:
        return {f"proba[{classes[1]}]": proba[:, 1]}
    return {f"proba[{c}]": proba[:, i] for i, c in enumerate(classes)}


def class_shares(y: Any, classes: Any) -> dict[str, float | None]:
    """Share of each class (every known class listed, 0 when absent)."""
    s = pd.Series(np.asarray(y))
    counts = s.value_counts(normalize=True)
    return {str(c): _num(counts.get(c, 0.0)) for c in np.asarray(classes)}


def build(X_train: pd.DataFrame, y_train: pd.Series, proba: np.ndarray, y_pred: Any, classes: Any) -> dict[str, Any]:
    """The profile of a training set and of the model's predictions on the evaluation split."""
    classes = np.asarray(classes)
    return {
        "format": FORMAT,
        "n_train": int(len(X_train)),
        "features": {str(c): {"dtype": str(X_train[c].dtype), **summary(X_train[c])} for c in X_train.columns},
        "target": {"classes": [c.item() if hasattr(c, "item") else c for c in classes],
                   "shares": class_shares(y_train, classes)},
        "prediction": {
            "split": "evaluation",
            "n": int(len(proba)),
            "columns": {k: numeric_summary(v) for k, v in probability_columns(proba, classes).items()},
            "predicted_shares": class_shares(y_pred, classes),
        },
    }


def write(folder: Path, X_train: pd.DataFrame, y_train: pd.Series, ev: Any) -> Path:
    """Write the profile of a job (its training split and evaluation) as `reference_profile.json`."""
    profile = build(X_train, y_train, ev.proba, ev.y_pred, ev.classes)
    path = Path(folder) / FILE
    path.write_text(json.dumps(profile, separators=(",", ":")))
    return path


def load(path: Path | str) -> Mapping[str, Any]:
    """Read a profile back, refusing formats this code does not know."""
    profile = json.loads(Path(path).read_text())
    if profile.get("format") != FORMAT:
        raise ValueError(f"{path}: reference profile format {profile.get('format')!r}, expected {FORMAT}")
    return profile
