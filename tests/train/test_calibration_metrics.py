"""brier_score, log_loss and calibration_error: scikit-learn's numbers, on the logged model and the held-out split."""
from __future__ import annotations

import mlflow
import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from helpers import compose
from runner.job import run as job
from runner.train import data, evaluate


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_error_is_the_count_weighted_gap_of_calibration_curve(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.beta(0.5, 2.0, size=500)
    positive = rng.random(500) < np.clip(p * 1.3, 0, 1)
    prob_true, prob_pred = calibration_curve(positive, p, n_bins=10, strategy="uniform")
    counts = np.bincount(evaluate.calibration_bins(p), minlength=10)
    expected = float(np.sum(counts[counts > 0] / len(p) * np.abs(prob_true - prob_pred)))
    assert evaluate.calibration_error(positive, p) == pytest.approx(expected, abs=1e-12)


def test_every_binary_job_logs_sklearns_calibration_metrics_of_its_logged_model(client, store_uri: str) -> None:
    job.run(compose([f"mlflow.tracking_uri={store_uri}", "model=xgb", "sampler=smotetomek", "rerun=true"]))
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    (run,) = client.search_runs([exp.experiment_id])
    model = mlflow.sklearn.load_model(run.data.tags["runner.model_uri"])
    split = data.load_split(compose([]).dataset)
    proba = model.predict_proba(split.X_test)
    m = run.data.metrics
    assert m["brier_score"] == pytest.approx(brier_score_loss(split.y_test, proba[:, 1]), abs=1e-12)
    assert m["log_loss"] == pytest.approx(log_loss(split.y_test, proba), abs=1e-12)
    prob_true, prob_pred = calibration_curve(split.y_test, proba[:, 1], n_bins=10)
    counts = np.bincount(evaluate.calibration_bins(proba[:, 1]), minlength=10)
    ece = float(np.sum(counts[counts > 0] / len(split.y_test) * np.abs(prob_true - prob_pred)))
    assert m["calibration_error"] == pytest.approx(ece, abs=1e-12)
    for name in ("brier_score", "log_loss", "calibration_error"):
        assert m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"]
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/confusion_matrix.png", "plots/roc_curve.png", "plots/precision_recall_curve.png",
                     "plots/reliability.png"}


def test_multiclass_jobs_have_no_calibration_metrics() -> None:
    cfg = compose(["dataset=iris"])
    split = data.load_split(cfg.dataset)
    from runner.train import pipeline

    pipe = pipeline.build(cfg, "passthrough", split.classes).fit(split.X_train, split.y_train)
    ev = evaluate.evaluate(pipe, split.X_test, split.y_test, bootstrap=50)
    assert not set(ev.metrics) & set(evaluate.CALIBRATION_METRICS)
