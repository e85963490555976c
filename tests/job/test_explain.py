"""explain=true: a job logs its permutation feature importance (runner.job.explain, runner.train.explain)."""
from __future__ import annotations

import tempfile

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance

from helpers import compose, job_runs, train
from runner.track import names

SMALL = ("dataset.n_samples=400", "model=rf", "model.n_estimators=20")


def logged_table(client, run_id: str) -> pd.DataFrame | None:
    if not any(f.path == names.FEATURE_IMPORTANCE for f in client.list_artifacts(run_id)):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_csv(client.download_artifacts(run_id, names.FEATURE_IMPORTANCE, tmp))


def expected_table(run, metric: str) -> dict[str, tuple[float, float]]:
    """permutation_importance of the logged model on the held-out split its logged config describes."""
    from runner.train import data
    from runner.train.evaluate import scores

    split = data.load_split(compose(list(SMALL)).dataset, "none")
    model = mlflow.sklearn.load_model(run.data.tags[names.MODEL_URI])

    def scorer(est, X, y):
        return scores(y, est.predict(X), est.predict_proba(X), np.asarray(est.classes_))[metric]

    got = permutation_importance(model, split.X_test, split.y_test, scoring=scorer, n_repeats=5, random_state=0)
    return {str(c): (got.importances_mean[i], got.importances_std[i]) for i, c in enumerate(split.X_test.columns)}


def assert_same(table: pd.DataFrame, expected: dict[str, tuple[float, float]]) -> None:
    assert sorted(table["feature"]) == sorted(expected)
    for row in table.itertuples():
        assert row.importance_mean == pytest.approx(expected[row.feature][0], abs=1e-12)
        assert row.importance_std == pytest.approx(expected[row.feature][1], abs=1e-12)
    assert table["importance_mean"].abs().max() > 0  # a real model: some column matters


def test_explain_logs_the_logged_models_permutation_importance(client) -> None:
    train(client.tracking_uri, *SMALL, "explain=true", "optimized_metric=roc_auc")
    (run,) = job_runs(client)
    table = logged_table(client, run.info.run_id)
    assert table is not None and list(table.columns) == ["feature", "importance_mean", "importance_std"]
    assert_same(table, expected_table(run, "roc_auc"))
    assert run.data.params["explain"] == "True"


def test_by_default_no_job_pays_for_it_and_explain_on_a_reused_run_adds_it(client) -> None:
    train(client.tracking_uri, *SMALL)
    (run,) = job_runs(client)
    assert logged_table(client, run.info.run_id) is None
    train(client.tracking_uri, *SMALL, "explain=true")  # identical otherwise: reused, not trained again
    (again,) = job_runs(client)
    assert again.info.run_id == run.info.run_id
    table = logged_table(client, run.info.run_id)
    assert table is not None
    assert_same(table, expected_table(run, "f1"))
