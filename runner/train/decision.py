"""How the pipeline's probabilities become labels: calibration, then a tuned decision threshold.

Both wrap the *whole* pipeline (features -> sampler -> model), so their internal CV sees the training
split's own rows, never resampled ones: `CalibratedClassifierCV` fits the calibrator on held-out folds
of un-resampled rows (undoing what resampling did to the probabilities), and
`TunedThresholdClassifierCV` picks the threshold on them. With both, the order is
`TunedThresholdClassifierCV(CalibratedClassifierCV(pipeline))`: calibrate, then pick the threshold on
calibrated probabilities (the other order would silently drop the threshold). The threshold is part
of the fitted estimator, so every prediction path of the logged model applies it.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from runner.errors import UserError

log = logging.getLogger(__name__)

UNMET = -1.0  # scores below 0 mean "the recall constraint is not met": recall - 1


def precision_at_min_recall(y_true: Any, y_pred: Any, *, min_recall: float, pos_label: Any) -> float:
    """Precision when recall >= min_recall, else recall - 1 (< 0, and larger the closer recall gets).

    So the best threshold is the most precise one meeting the constraint when any does, else the one
    with the best recall (which `best_score_ + 1` then reports).
    """
    from sklearn.metrics import precision_score, recall_score

    recall = recall_score(y_true, y_pred, pos_label=pos_label, zero_division=0)
    if recall < min_recall:
        return float(recall - 1.0)
    return float(precision_score(y_true, y_pred, pos_label=pos_label, zero_division=0))


def scorer(metric: str, pos_label: Any, min_recall: float | None) -> Any:
    """A scikit-learn scorer of labels for the positive class `pos_label` (text labels included)."""
    from sklearn import metrics as m

    if min_recall is not None:
        return m.make_scorer(precision_at_min_recall, min_recall=float(min_recall), pos_label=pos_label)
    binary = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}
    if metric in binary:
        return m.make_scorer(binary[metric], pos_label=pos_label, zero_division=0)
    if metric == "f1_macro":
        return m.make_scorer(m.f1_score, average="macro", zero_division=0)
    return {"accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy"}[metric]


def folds(n: int, seed: int) -> Any:
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)


def wrap(pipeline: Any, cfg: Any, classes: np.ndarray) -> Any:
    """The pipeline inside the calibration and threshold wrappers the config asks for (or as it is)."""
    estimator = pipeline
    method = cfg.calibration.get("method", "none")
    if method != "none":
        from sklearn.calibration import CalibratedClassifierCV

        estimator = CalibratedClassifierCV(estimator, method=method, cv=folds(int(cfg.calibration.folds), cfg.seed))
    if cfg.threshold.get("kind", "none") == "tuned":
        from sklearn.model_selection import TunedThresholdClassifierCV

        metric, min_recall = str(cfg.threshold.metric), cfg.threshold.get("min_recall")
        if min_recall is None and cfg.optimized_metric != metric:
            log.info("threshold.metric=%s: optimized_metric=%s does not depend on the threshold", metric,
                     cfg.optimized_metric)
        estimator = TunedThresholdClassifierCV(
            estimator, scoring=scorer(metric, classes[-1], min_recall), cv=folds(int(cfg.threshold.folds), cfg.seed),
            random_state=cfg.seed, store_cv_results=min_recall is not None,
        )
    return estimator


def threshold_of(fitted: Any) -> float | None:
    """The decision threshold a fitted estimator applies (None when it is the default 0.5)."""
    value = getattr(fitted, "best_threshold_", None)
    return None if value is None else float(value)


def check_constraint(fitted: Any, cfg: Any) -> None:
    """threshold.min_recall: one line naming the best recall reached when no threshold reached it."""
    min_recall = cfg.threshold.get("min_recall") if cfg.threshold.get("kind") == "tuned" else None
    if min_recall is None or fitted.best_score_ >= 0:
        return
    best = fitted.best_score_ + 1.0
    raise UserError(f"threshold.min_recall={min_recall}: no threshold reaches that recall on the internal CV; "
                    f"the best recall reached is {best:.3f}; lower threshold.min_recall or change the model")
