"""What every job logs about its held-out rows: per-row predictions and an interval for every metric."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import compose
from runner.job import run as job
from runner.train import data, evaluate


def run_job(store_uri: str, *overrides: str):
    import mlflow

    job.run(compose([f"mlflow.tracking_uri={store_uri}", "rerun=true", *overrides]))
    client = mlflow.MlflowClient(store_uri)
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    return client, client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)[0]


def test_predictions_are_logged_per_row_and_reproduce_the_metrics(client, store_uri: str, tmp_path: Path) -> None:
    _, run = run_job(store_uri, "model=rf")
    frame = pd.read_parquet(client.download_artifacts(run.info.run_id, "predictions/holdout.parquet", str(tmp_path)))
    cfg = compose([])
    split = data.load_split(cfg.dataset)
    assert list(frame.columns) == ["row", "label", "prediction", "proba_0", "proba_1"]
    assert sorted(frame["row"]) == sorted(split.X_test.index)  # positions in the full data
    assert (frame.set_index("row").loc[split.X_test.index, "label"].to_numpy() == split.y_test.to_numpy()).all()
    scores = evaluate.scores(frame["label"], frame["prediction"], frame[["proba_0", "proba_1"]].to_numpy(),
                             np.array([0, 1]))
    for name, value in scores.items():
        assert run.data.metrics[name] == pytest.approx(value, abs=1e-12)


def test_every_metric_has_an_interval_that_holds_it_and_narrows_with_more_data(client, store_uri: str) -> None:
    widths = []
    for n in (1000, 10000):
        _, run = run_job(store_uri, "model=logreg", f"dataset.n_samples={n}")
        m = run.data.metrics
        for name in evaluate.MAIN_METRICS:
            assert m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"], name
        assert "fit_seconds_ci_low" not in m
        widths.append({name: m[f"{name}_ci_high"] - m[f"{name}_ci_low"] for name in evaluate.MAIN_METRICS})
    for name in evaluate.MAIN_METRICS:
        assert widths[1][name] < widths[0][name], name
