"""Scores on the held-out split, their intervals, and the per-row predictions they come from.

The numbers the logged model reproduces: the point estimates (`scores`), a seeded stratified
bootstrap interval for each (runner.train.uncertainty, the same definitions), and the rows
themselves (`holdout_frame`, logged as predictions/holdout.parquet), so models scored on the same
data can later be compared row by row.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from runner.config.schema import (
    CALIBRATION_BINS,
    CALIBRATION_METRICS,
    LABEL_METRICS,
    MAIN_METRICS,
    PROBA_METRICS,
    PROBA_PREFIX,
)

__all__ = ["CALIBRATION_METRICS", "LABEL_METRICS", "MAIN_METRICS", "PROBA_METRICS", "Evaluation",
           "calibration_bins", "calibration_error", "evaluate", "holdout_frame", "metric_names", "prediction_frame",
           "reliability_curve", "score", "scores"]



@dataclass(frozen=True)
class Evaluation:
    """Predictions and scores of one fitted pipeline on one split."""

    metrics: dict[str, float]
    y_pred: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    report: str
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def interval_metrics(self) -> dict[str, float]:
        """`M_ci_low` and `M_ci_high` of every metric with an interval."""
        out = {}
        for name, (low, high) in self.intervals.items():
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = low, high
        return out


def scores(y_true: Any, y_pred: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    """The metrics of the product: positive class for binary data, macro averages for multiclass."""
    return {name: score(name, y_true, y_pred, proba, classes) for name in metric_names(y_true, classes)}


def metric_names(y_true: Any, classes: np.ndarray) -> list[str]:
    """The metrics `scores` returns for these labels: the ranking metrics need both classes (every class,
    multiclass) present in `y_true`; the calibration metrics are binary only."""
    binary = len(classes) == 2
    present = len(np.unique(np.asarray(y_true)))
    names = list(LABEL_METRICS)
    if binary and present == 2:
        names += list(PROBA_METRICS)
    elif not binary and present == len(classes):
        names.append("roc_auc")
    if binary:
        names += list(CALIBRATION_METRICS)
    return names


def score(metric: str, y_true: Any, y_pred: Any, proba: np.ndarray | None, classes: np.ndarray) -> float:
    """One metric of `scores`, computing only that one: `y_pred` is needed by the label metrics, `proba` by
    the others (the one not needed may be None)."""
    from sklearn import metrics as m

    binary = len(classes) == 2
    avg: dict[str, Any] = {"average": "binary", "pos_label": classes[-1]} if binary else {"average": "macro"}
    if metric in LABEL_METRICS:
        if metric == "accuracy":
            return float(m.accuracy_score(y_true, y_pred))
        if metric == "balanced_accuracy":
            return float(m.balanced_accuracy_score(y_true, y_pred))
        if metric == "f1_macro":
            return float(m.f1_score(y_true, y_pred, average="macro", zero_division=0))
        fn = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}[metric]
        return float(fn(y_true, y_pred, zero_division=0, **avg))
    p = np.asarray(proba)
    if metric == "roc_auc":
        if binary:
            return float(m.roc_auc_score(y_true, p[:, 1]))
        return float(m.roc_auc_score(y_true, p, multi_class="ovr", average="macro", labels=classes))
    if metric == "average_precision" and binary:
        return float(m.average_precision_score(y_true, p[:, 1], pos_label=classes[-1]))
    if metric == "brier_score" and binary:
        return float(m.brier_score_loss(y_true, p[:, 1], pos_label=classes[-1]))
    if metric == "log_loss" and binary:
        with warnings.catch_warnings():  # float32 probabilities (XGBoost) sum to 1 only to float32 precision
            warnings.filterwarnings("ignore", message="The y_prob values do not sum to one")
            return float(m.log_loss(y_true, p, labels=classes))
    if metric == "calibration_error" and binary:
        return calibration_error(np.asarray(y_true) == classes[-1], p[:, 1])
    raise ValueError(f"no metric {metric!r} for {len(classes)} classes")


def calibration_bins(p: np.ndarray, bins: int = CALIBRATION_BINS) -> np.ndarray:
    """Each probability's equal-width bin on [0, 1], as `sklearn.calibration.calibration_curve` bins them."""
    return np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], p)


def reliability_curve(positive: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(observed share of positives, mean probability) of every non-empty bin of `calibration_error`, and
    every bin's row count: the points of a reliability diagram."""
    ids = calibration_bins(p, bins)
    counts = np.bincount(ids, minlength=bins)
    seen = counts > 0
    observed = np.bincount(ids, weights=np.asarray(positive, dtype=float), minlength=bins)[seen] / counts[seen]
    predicted = np.bincount(ids, weights=p, minlength=bins)[seen] / counts[seen]
    return observed, predicted, counts


def calibration_error(positive: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error of the positive class: |observed share - mean probability| per
    equal-width bin, weighted by the bin's share of the rows."""
    ids = calibration_bins(p, bins)
    observed = np.bincount(ids, weights=positive.astype(float), minlength=bins)
    predicted = np.bincount(ids, weights=p, minlength=bins)
    return float(np.abs(observed - predicted).sum() / len(p))


def evaluate(pipeline: Any, X_test: pd.DataFrame, y_test: pd.Series, bootstrap: int = 1000,
             confidence: float = 0.95, seed: int = 0) -> Evaluation:
    """Predict the held-out rows with the fitted pipeline, score them, and bootstrap every score's interval."""
    from sklearn.metrics import classification_report

    from runner.train.uncertainty import bootstrap_intervals

    y_pred = pipeline.predict(X_test)
    proba = pipeline.predict_proba(X_test)
    classes = np.asarray(pipeline.classes_)
    report = classification_report(y_test, y_pred, zero_division=0, digits=4)
    metrics = scores(y_test, y_pred, proba, classes)
    intervals = (bootstrap_intervals(y_test.to_numpy(), y_pred, proba, classes, n_resamples=bootstrap,
                                     confidence=confidence, seed=seed, metrics=list(metrics))
                 if bootstrap > 0 else {})
    return Evaluation(metrics, y_pred, proba, classes, report, intervals)


def prediction_frame(rows: Any, y_true: Any, y_pred: Any, proba: np.ndarray, classes: Any) -> pd.DataFrame:
    """Per-row predictions: each row's position in the full data (`row`), the true `label`, the
    `prediction` and one `proba_<class>` column per class (in the model's class order)."""
    frame = pd.DataFrame({"row": np.asarray(rows, dtype=np.int64), "label": np.asarray(y_true),
                          "prediction": np.asarray(y_pred)})
    for i, c in enumerate(np.asarray(classes)):
        frame[f"{PROBA_PREFIX}{c}"] = np.asarray(proba)[:, i]
    return frame


def holdout_frame(ev: Evaluation, y_test: pd.Series) -> pd.DataFrame:
    """The held-out rows' predictions (logged as predictions/holdout.parquet)."""
    return prediction_frame(y_test.index, y_test.to_numpy(), ev.y_pred, ev.proba, ev.classes)
