"""Decision thresholds, calibration and class weights: around the whole pipeline, logged, and part of the model."""
from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from helpers import compose
from runner.errors import UserError
from runner.job import run as job
from runner.train import checks, data, decision, pipeline, weights

ROOT_CHURN = "examples/churn.csv"


def latest_run(client, experiment: str = "synthetic-imbalanced"):
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)[0]


def test_threshold_and_calibration_wrap_the_whole_pipeline_in_that_order() -> None:
    cfg = compose(["model=xgb", "sampler=smotetomek", "calibration=isotonic", "threshold=tuned"])
    split = data.load_split(cfg.dataset)
    pipe = pipeline.build(cfg, "passthrough", split.classes)
    est = decision.wrap(pipe, cfg, split.classes)
    assert type(est).__name__ == "TunedThresholdClassifierCV"
    assert type(est.estimator).__name__ == "CalibratedClassifierCV"
    assert est.estimator.estimator is pipe and est.estimator.method == "isotonic"
    assert est.cv.random_state == cfg.seed and est.estimator.cv.random_state == cfg.seed
    assert cfg.threshold.metric == "f1"  # optimized_metric depends on the threshold


def test_threshold_metric_falls_back_to_f1_for_a_ranking_metric() -> None:
    assert compose(["threshold=tuned", "optimized_metric=roc_auc"]).threshold.metric == "f1"
    assert compose(["threshold=tuned", "optimized_metric=recall"]).threshold.metric == "recall"


@pytest.mark.slow
def test_a_tuned_threshold_is_logged_and_applied_by_every_prediction_path(client, store_uri: str, tmp_path) -> None:
    job.run(compose([f"mlflow.tracking_uri={store_uri}", "model=xgb", "sampler=smotetomek", "threshold=tuned",
                     "rerun=true"]))
    run = latest_run(client)
    threshold = run.data.metrics["decision_threshold"]
    assert 0 < threshold < 1
    uri = run.data.tags["runner.model_uri"]
    split = data.load_split(compose([]).dataset)
    sk = mlflow.sklearn.load_model(uri)
    expected = np.where(sk.predict_proba(split.X_test)[:, 1] >= threshold, 1, 0)
    assert (sk.predict(split.X_test) == expected).all()
    assert (mlflow.pyfunc.load_model(uri).predict(split.X_test) == expected).all()
    assert run.data.metrics["f1"] == pytest.approx(f1_score(split.y_test, expected), abs=1e-12)


def test_min_recall_that_no_threshold_reaches_is_one_line_naming_the_best_recall() -> None:
    from sklearn.model_selection import TunedThresholdClassifierCV

    cfg = compose(["model=logreg", "threshold=tuned", "threshold.min_recall=0.95"])
    split = data.load_split(cfg.dataset)
    pipe = pipeline.build(cfg, "passthrough", split.classes)
    # Only very high thresholds on offer, so no threshold gets recall 0.95: the objective reports the best
    # recall reached as a negative score (recall - 1).
    est = TunedThresholdClassifierCV(pipe, scoring=decision.scorer("f1", 1, 0.95), thresholds=[0.97, 0.99],
                                     cv=decision.folds(5, cfg.seed)).fit(split.X_train, split.y_train)
    assert -1 <= est.best_score_ < 0
    with pytest.raises(UserError, match=r"threshold.min_recall=0.95: no threshold reaches .* best recall reached is "
                                         + f"{est.best_score_ + 1:.3f}"):
        decision.check_constraint(est, cfg)
    reachable = decision.wrap(pipe, cfg, split.classes).fit(split.X_train, split.y_train)
    assert reachable.best_score_ > 0  # the most precise threshold with recall >= 0.95 on the internal CV
    decision.check_constraint(reachable, cfg)


@pytest.mark.slow
def test_text_labels_tune_the_threshold_for_the_last_label(tmp_path) -> None:
    cfg = compose(["dataset=csv", f"dataset.path={pytest.importorskip('pathlib').Path(__file__).parents[2] / ROOT_CHURN}",
                   "dataset.target=churned", "dataset.drop=[customer_id]", "model=xgb", "threshold=tuned"])
    split = data.load_split(cfg.dataset, "standard")
    from runner.train import features

    est = decision.wrap(pipeline.build(cfg, features.step(split.X_train, True, "standard"), split.classes), cfg,
                        split.classes)
    est.fit(split.X_train, split.y_train)
    proba = est.predict_proba(split.X_test)[:, list(est.classes_).index("yes")]
    assert list(est.predict(split.X_test)) == list(np.where(proba >= est.best_threshold_, "yes", "no"))


def test_threshold_tuning_on_multiclass_data_is_refused_in_one_line() -> None:
    cfg = compose(["dataset=iris", "threshold=tuned"])
    split = data.load_split(cfg.dataset)
    with pytest.raises(UserError, match=r"threshold=tuned: a decision threshold is for binary data; .* 3 classes"):
        checks.against_data(cfg, split, None, None)


@pytest.mark.parametrize("model, expected", [("logreg", "class_weight"), ("rf", "class_weight"),
                                             ("xgb", "scale_pos_weight")])
def test_balanced_weights_come_from_the_labels_the_model_sees(model: str, expected: str) -> None:
    cfg = compose([f"model={model}", "weighting=balanced", "sampler=random-under"])
    split = data.load_split(cfg.dataset)
    pipe = pipeline.build(cfg, "passthrough", split.classes).fit(split.X_train, split.y_train)
    used = weights.used(pipe)
    if expected == "scale_pos_weight":
        assert used == {"scale_pos_weight": 1.0}  # after under-sampling the model sees balanced classes
        assert pipe.named_steps["model"].estimator_.get_params()["scale_pos_weight"] == 1.0
    else:
        assert used == {"class_weight.0": 1.0, "class_weight.1": 1.0}
    cfg = compose([f"model={model}", "weighting=balanced"])
    pipe = pipeline.build(cfg, "passthrough", split.classes).fit(split.X_train, split.y_train)
    y = split.y_train.to_numpy()
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    used = weights.used(pipe)
    if expected == "scale_pos_weight":
        assert used["scale_pos_weight"] == pytest.approx(n_neg / n_pos)
    else:
        assert used["class_weight.1"] == pytest.approx(len(y) / (2 * n_pos))
        assert pipe.named_steps["model"].estimator_.class_weight == "balanced"


def test_multiclass_xgb_gets_balanced_sample_weights() -> None:
    cfg = compose(["dataset=iris", "model=xgb", "weighting=balanced"])
    split = data.load_split(cfg.dataset)
    pipe = pipeline.build(cfg, "passthrough", split.classes).fit(split.X_train, split.y_train)
    assert set(weights.used(pipe)) == {"class_weight.0", "class_weight.1", "class_weight.2"}


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    ["calibration=sigmoid"], ["calibration=isotonic", "threshold=tuned"], ["weighting=balanced", "threshold=tuned"],
    ["sampler=smote", "calibration=isotonic"], ["dataset=iris", "calibration=sigmoid", "weighting=balanced"],
])
def test_every_combination_that_makes_sense_fits_logs_and_registers(client, store_uri: str, overrides) -> None:
    small = [] if "dataset=iris" in overrides else ["dataset.n_samples=600"]
    value = job.run(compose([f"mlflow.tracking_uri={store_uri}", "model=logreg", "registry.register=true",
                             "rerun=true", *small, *overrides]))
    assert not np.isnan(value)
    experiment = "iris" if "dataset=iris" in overrides else "synthetic-imbalanced"
    run = latest_run(client, experiment)
    assert run.info.status == "FINISHED" and "runner.registered_version" in run.data.tags
    assert ("decision_threshold" in run.data.metrics) == ("threshold=tuned" in overrides)
    frame = pd.DataFrame(mlflow.pyfunc.load_model(run.data.tags["runner.model_uri"]).predict(
        data.load_split(compose([*small, *overrides]).dataset).X_test))
    assert len(frame) > 0
