"""What a job records, end to end: real `python run.py [-m] ...` against a temp SQLite store; the logged
models reproduce the logged metrics."""
from __future__ import annotations

import math
from pathlib import Path

import mlflow
import numpy as np
import pytest
from omegaconf import OmegaConf

from helpers import job_runs
from runner.train import data, evaluate

pytestmark = pytest.mark.slow  # real `python run.py` subprocesses

LABEL = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "f1_macro")


def reproduce(client, run) -> None:
    """The logged model scores exactly the logged metrics on the split its logged config describes."""
    cfg_text = client.download_artifacts(run.info.run_id, "resolved_config.yaml")
    cfg = OmegaConf.load(cfg_text)
    split = data.load_split(cfg.dataset)
    assert split.digest == run.data.tags["runner.data_digest"]
    model_uri = run.data.tags["runner.model_uri"]
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    y_pred = np.asarray(pyfunc.predict(split.X_test)).ravel()
    flavor = mlflow.sklearn.load_model(model_uri)
    proba = flavor.predict_proba(split.X_test)
    got = evaluate.scores(split.y_test, y_pred, proba, np.asarray(flavor.classes_))
    for name in LABEL:
        assert got[name] == run.data.metrics[name], name
    for name in ("roc_auc", "average_precision"):
        if name in run.data.metrics:
            assert math.isclose(got[name], run.data.metrics[name], abs_tol=1e-9), name


def test_card_sweep_logs_everything_and_models_reproduce(run_cli, client) -> None:
    proc = run_cli("-m", "model=logreg,rf,xgb", "sampler=none,smotetomek", "dataset.n_samples=400",
                   "seed=1")
    runs = job_runs(client)
    assert len(runs) == 6
    # the pickle-format notice MLflow repeats on every job is dropped (the format is chosen on purpose)
    assert "Saving scikit-learn models in the pickle" not in proc.stdout + proc.stderr
    combos = {(r.data.tags["runner.model"], r.data.tags["runner.sampler"]) for r in runs}
    assert combos == {(m, s) for m in ("logreg", "rf", "xgb") for s in ("none", "smotetomek")}
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.runName"] == f"{run.data.tags['runner.model']}+{run.data.tags['runner.sampler']}"
        for key in ("runner.job_num", "runner.output_dir", "runner.git_commit", "runner.git_dirty",
                    "runner.identity", "runner.code_version", "runner.data_digest", "mlflow.parentRunId"):
            assert key in run.data.tags, key
        p = run.data.params
        assert p["dataset.n_samples"] == "400" and p["seed"] == "1" and "sampler._target_" in p
        assert p["model._target_"].startswith(("sklearn.", "xgboost."))
        for name in (*LABEL, "roc_auc", "average_precision", "fit_seconds"):
            assert name in run.data.metrics, name
        files = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"resolved_config.yaml", "overrides.yaml", "classification_report.txt", "plots"} <= files
        plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert plots == {"plots/confusion_matrix.png", "plots/roc_curve.png", "plots/precision_recall_curve.png",
                         "plots/reliability.png"}
        resolved = client.download_artifacts(run.info.run_id, "resolved_config.yaml")
        assert "${" not in Path(resolved).read_text()
        inputs = run.inputs.dataset_inputs
        assert {i.tags[0].value for i in inputs} >= {"training"}
        # the LoggedModel carries the run's params and metrics; each metric is written once
        logged = client.get_logged_model(run.data.tags["runner.model_uri"].removeprefix("models:/"))
        assert {m.key: m.value for m in logged.metrics} == run.data.metrics
        assert len(logged.metrics) == len(run.data.metrics) and logged.params == run.data.params
        assert len(client.get_metric_history(run.info.run_id, "f1")) == 1
        reproduce(client, run)
    # the run spans the whole job
    for run in runs:
        assert run.info.end_time - run.info.start_time >= run.data.metrics["fit_seconds"] * 1000


def test_single_run_on_iris_registers(run_cli, client) -> None:
    run_cli("dataset=iris", "model=logreg", "registry.register=true")
    (run,) = job_runs(client, "iris")
    assert run.info.status == "FINISHED"
    assert "roc_auc" in run.data.metrics and "average_precision" not in run.data.metrics
    versions = client.search_model_versions("name='iris-classifier'")
    assert [v.run_id for v in versions] == [run.info.run_id]
    tags = client.get_model_version("iris-classifier", versions[0].version).tags
    assert tags["model"] == "logreg" and tags["sampler"] == "none" and tags["run_id"] == run.info.run_id
    reproduce(client, run)
