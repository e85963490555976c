"""Class labels for models that accept only 0..n-1 (XGBoost): encode for fit, decode on predict."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


class LabelEncoded(ClassifierMixin, BaseEstimator):
    """Wraps a classifier so it trains on 0..n-1 and answers in the data's own labels ("yes"/"no")."""

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any, **fit_params: Any) -> LabelEncoded:
        from sklearn.preprocessing import LabelEncoder

        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(X, self.encoder_.transform(y), **fit_params)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.encoder_.inverse_transform(np.asarray(self.estimator_.predict(X)).astype(int))

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.estimator_.predict_proba(X)


def needs_encoding(model: Any, classes: Any) -> bool:
    """XGBoost refuses labels other than 0..n-1 (text, booleans, {1, 2}); scikit-learn takes any."""
    if not type(model).__module__.startswith("xgboost"):
        return False
    classes = np.asarray(classes)
    return not (np.issubdtype(classes.dtype, np.integer) and not np.issubdtype(classes.dtype, np.bool_)
                and np.array_equal(np.sort(classes), np.arange(len(classes))))


def wrap(model: Any, classes: Any) -> Any:
    """The model itself, or the model inside LabelEncoded when its library needs 0..n-1."""
    return LabelEncoded(model) if needs_encoding(model, classes) else model
