"""Scores on the held-out split: the numbers the logged model reproduces."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from runner.config.schema import LABEL_METRICS, MAIN_METRICS, PROBA_METRICS

__all__ = ["LABEL_METRICS", "MAIN_METRICS", "PROBA_METRICS", "Evaluation", "evaluate", "scores"]


@dataclass(frozen=True)
class Evaluation:
    """Predictions and scores of one fitted pipeline on one split."""

    metrics: dict[str, float]
    y_pred: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    report: str


def scores(y_true: Any, y_pred: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    """The metrics of the product: positive class for binary data, macro averages for multiclass."""
    from sklearn import metrics as m

    binary = len(classes) == 2
    avg: dict[str, Any] = {"average": "binary", "pos_label": classes[-1]} if binary else {"average": "macro"}
    out = {
        "accuracy": m.accuracy_score(y_true, y_pred),
        "balanced_accuracy": m.balanced_accuracy_score(y_true, y_pred),
        "precision": m.precision_score(y_true, y_pred, zero_division=0, **avg),
        "recall": m.recall_score(y_true, y_pred, zero_division=0, **avg),
        "f1": m.f1_score(y_true, y_pred, zero_division=0, **avg),
        "f1_macro": m.f1_score(y_true, y_pred, average="macro", zero_division=0),
    }
    present = np.unique(np.asarray(y_true))
    if binary:
        if len(present) == 2:
            out["roc_auc"] = m.roc_auc_score(y_true, proba[:, 1])
            out["average_precision"] = m.average_precision_score(y_true, proba[:, 1], pos_label=classes[-1])
    elif len(present) == len(classes):
        out["roc_auc"] = m.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
    return {k: float(v) for k, v in out.items()}


def evaluate(pipeline: Any, X_test: pd.DataFrame, y_test: pd.Series) -> Evaluation:
    """Predict the held-out rows with the fitted pipeline and score them."""
    from sklearn.metrics import classification_report

    y_pred = pipeline.predict(X_test)
    proba = pipeline.predict_proba(X_test)
    classes = np.asarray(pipeline.classes_)
    report = classification_report(y_test, y_pred, zero_division=0, digits=4)
    return Evaluation(scores(y_test, y_pred, proba, classes), y_pred, proba, classes, report)
