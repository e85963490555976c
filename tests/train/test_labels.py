"""Class labels for models that take only 0..n-1 (runner.train.labels): encode for fit, answer in the data's labels."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder
from xgboost import XGBClassifier

from runner.train import labels


@pytest.mark.parametrize("classes, needed", [
    ([0, 1], False), ([0, 1, 2], False), (np.array([0, 1], dtype=np.int32), False),
    ([1, 2], True), (["no", "yes"], True), ([False, True], True), ([0.0, 1.0], True), ([0, 2], True),
])
def test_only_xgboost_needs_labels_other_than_0_to_n_encoded(classes, needed: bool) -> None:
    assert labels.needs_encoding(XGBClassifier(), classes) is needed
    assert labels.needs_encoding(LogisticRegression(), classes) is False
    assert isinstance(labels.wrap(XGBClassifier(), classes), labels.LabelEncoded) is needed
    model = LogisticRegression()
    assert labels.wrap(model, classes) is model


def test_a_wrapped_xgboost_answers_in_the_datas_labels_with_xgboosts_own_probabilities() -> None:
    X, y_int = make_classification(n_samples=200, n_features=5, random_state=0)
    y = np.where(y_int == 1, "yes", "no")
    params = {"n_estimators": 5, "max_depth": 2, "random_state": 0}
    wrapped = labels.wrap(XGBClassifier(**params), np.unique(y)).fit(X, y)
    encoder = LabelEncoder().fit(y)
    plain = XGBClassifier(**params).fit(X, encoder.transform(y))
    assert list(wrapped.classes_) == ["no", "yes"]
    np.testing.assert_array_equal(wrapped.predict(X), encoder.inverse_transform(plain.predict(X)))
    np.testing.assert_array_equal(wrapped.predict_proba(X), plain.predict_proba(X))
    assert set(wrapped.predict(X)) == {"no", "yes"}
