"""Permutation feature importance of a fitted model (runner.train.explain)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as m
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import make_scorer

from runner.train import explain


def data(labels=("no", "yes")):
    X, y = make_classification(n_samples=300, n_features=5, n_informative=2, weights=[0.8, 0.2], random_state=0)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(5)]), np.asarray(labels)[y]


@pytest.mark.parametrize("metric", ["f1", "roc_auc"])
def test_the_table_is_sklearns_permutation_importance_on_the_runners_metric(metric: str) -> None:
    """Text labels: the positive class is the last label, as in the runner's own metrics."""
    X, y = data()
    model = RandomForestClassifier(n_estimators=20, random_state=0, n_jobs=2).fit(X[:200], y[:200])
    table = explain.permutation_table(model, X[200:], y[200:], metric)
    scoring = (make_scorer(m.f1_score, pos_label="yes", zero_division=0) if metric == "f1"
               else make_scorer(m.roc_auc_score, response_method="predict_proba"))
    expected = permutation_importance(model, X[200:], y[200:], scoring=scoring, n_repeats=5, random_state=0)
    by_feature = table.set_index("feature")
    for i, column in enumerate(X.columns):
        assert by_feature.loc[column, "importance_mean"] == pytest.approx(expected.importances_mean[i], abs=1e-12)
        assert by_feature.loc[column, "importance_std"] == pytest.approx(expected.importances_std[i], abs=1e-12)
    assert list(table.columns) == explain.COLUMNS
    assert list(table["importance_mean"]) == sorted(table["importance_mean"], reverse=True)
    assert table["importance_mean"].max() > 0.01  # informative columns matter: the table is not all zeros


def test_the_model_itself_keeps_its_threads() -> None:
    X, y = data((0, 1))
    model = RandomForestClassifier(n_estimators=5, random_state=0, n_jobs=2).fit(X, y)
    twin = explain.single_threaded(model)
    assert twin is not model and twin.n_jobs == 1 and model.n_jobs == 2
    np.testing.assert_array_equal(twin.predict_proba(X), model.predict_proba(X))
