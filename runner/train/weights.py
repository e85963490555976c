"""Class weights instead of resampling (`weighting=balanced`), computed at fit time from the labels the model
actually sees: after any sampler, inside the pipeline's model step, as runner.train.labels encodes text labels.

logreg and rf get scikit-learn's `class_weight="balanced"`; binary XGBoost gets `scale_pos_weight` =
negatives / positives (the positive class is the last label); multiclass XGBoost gets balanced sample
weights. `weights_` records what was used, for the run's metrics.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


def _is_xgboost(model: Any) -> bool:
    return type(model).__module__.startswith("xgboost")


class Balanced(ClassifierMixin, BaseEstimator):
    """Wraps a classifier (or runner.train.labels.LabelEncoded around one) and balances its classes at fit time."""

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any, **fit_params: Any) -> Balanced:
        from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

        from runner.train.labels import LabelEncoded

        y = np.asarray(y)
        self.classes_ = np.unique(y)
        model = clone(self.estimator)
        inner = model.estimator if isinstance(model, LabelEncoded) else model
        if _is_xgboost(inner):
            if len(self.classes_) == 2:
                positives = int(np.sum(y == self.classes_[-1]))
                value = (len(y) - positives) / max(1, positives)
                inner.set_params(scale_pos_weight=value)
                self.weights_ = {"scale_pos_weight": float(value)}
            else:
                fit_params = {**fit_params, "sample_weight": compute_sample_weight("balanced", y)}
                self.weights_ = self._class_weights(compute_class_weight("balanced", classes=self.classes_, y=y))
        else:
            inner.set_params(class_weight="balanced")
            self.weights_ = self._class_weights(compute_class_weight("balanced", classes=self.classes_, y=y))
        self.estimator_ = model.fit(X, y, **fit_params)
        return self

    def _class_weights(self, weights: np.ndarray) -> dict[str, float]:
        return {f"class_weight.{c}": float(w) for c, w in zip(self.classes_, weights, strict=True)}

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.estimator_.predict(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(self.estimator_.predict_proba(X))


def wrap(model: Any, kind: str) -> Any:
    """The model, inside `Balanced` for weighting=balanced."""
    return Balanced(model) if kind == "balanced" else model


def used(fitted: Any) -> dict[str, float]:
    """The weights a fitted estimator used: of its first `Balanced` step (the whole training split's fit, or
    the first calibration fold's under calibration), {} without weighting."""
    for part in _parts(fitted):
        if isinstance(part, Balanced) and hasattr(part, "weights_"):
            return dict(part.weights_)
    return {}


def _parts(est: Any) -> Any:
    """Every fitted estimator nested in `est` (pipelines, calibration and threshold wrappers), outermost first."""
    yield est
    calibrated = getattr(est, "calibrated_classifiers_", None)
    if calibrated:
        for fold in calibrated:
            yield from _parts(fold.estimator)
        return
    fitted = getattr(est, "estimator_", None)
    if isinstance(fitted, BaseEstimator):
        yield from _parts(fitted)
        return
    for _, step in getattr(est, "steps", None) or []:
        if isinstance(step, BaseEstimator):
            yield from _parts(step)
