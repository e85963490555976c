"""The tutorial's experiment overlays (conf/experiment/) end to end: real sweeps against a temp store."""
from __future__ import annotations

import pytest

from helpers import job_runs

pytestmark = pytest.mark.slow  # real `python run.py -m` subprocesses


def test_experiment_compare_registers_the_four_tutorial_models(run_cli, client) -> None:
    run_cli("-m", "experiment=compare", "dataset.n_samples=400")
    runs = job_runs(client)
    assert sorted((r.data.tags["runner.model"], r.data.tags["runner.sampler"]) for r in runs) == [
        ("logreg", "none"), ("rf", "none"), ("xgb", "none"), ("xgb", "smotetomek")]
    logreg = next(r for r in runs if r.data.tags["runner.model"] == "logreg")
    assert logreg.data.params["model.solver"] == "liblinear"
    assert len(client.search_model_versions("name='synthetic-imbalanced-classifier'")) == 4


def test_experiment_iris_underfit_registers_weak_models(run_cli, client) -> None:
    run_cli("-m", "experiment=iris-underfit")
    runs = job_runs(client, "iris")
    assert sorted(r.data.tags["runner.model"] for r in runs) == ["logreg", "rf"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert len(client.search_model_versions("name='iris-classifier'")) == 2
    run_cli("dataset=iris", "model=logreg")  # a properly configured model scores clearly higher
    proper = next(r for r in job_runs(client, "iris") if not r.data.tags.get("mlflow.parentRunId"))
    for weak in runs:
        assert weak.data.metrics["accuracy"] < proper.data.metrics["accuracy"] - 0.1
    arts = {a.path for a in client.list_artifacts(runs[0].info.run_id, "plots")}
    assert arts == {"plots/confusion_matrix.png"}
