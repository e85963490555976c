"""One job in this process (runner.job.run): plan, train, log, reuse; what it returns for sweepers."""
from __future__ import annotations

import math

import pytest

from helpers import compose, job_runs, logged_models


def test_job_returns_its_optimized_metric_and_rerun_trains_again(client) -> None:
    """What the task function returns (for sweepers such as Optuna) is the configured metric."""
    from runner.job import run as job

    cfg = compose(["dataset.n_samples=300", "optimized_metric=roc_auc"])
    value = job.run(cfg)
    (run,) = job_runs(client)
    assert value == run.data.metrics["roc_auc"] and value != run.data.metrics["f1"]
    assert job.run(cfg) == value and len(job_runs(client)) == 1 and logged_models(client) == 1  # reused
    again = job.run(compose(["dataset.n_samples=300", "optimized_metric=roc_auc", "rerun=true"]))
    assert len(job_runs(client)) == 2 and logged_models(client) == 2 and math.isclose(again, value, abs_tol=1e-9)


@pytest.fixture
def sweep_job(client, store_uri: str):
    """`make(num, *overrides)` -> the task config of job `num` of a sweep, with Hydra's runtime state set as Hydra sets
    it for a multirun job (HydraConfig); and the sweep's parent run. Hydra's state is cleared after."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from helpers import compose_with_hydra
    from runner.track import store

    parent = client.create_run(store.prepare(store_uri, "synthetic-imbalanced"), tags={"runner.sweep": "true"})

    def make(num: int, *overrides: str):
        full = compose_with_hydra(["hydra.mode=MULTIRUN", f"+hydra.job.num={num}", f"hydra.runtime.output_dir=/out/{num}",
                                   f"mlflow.tracking_uri={store_uri}", f"mlflow.parent_run_id={parent.info.run_id}",
                                   "dataset.n_samples=300", *overrides])
        HydraConfig.instance().set_config(full)
        with open_dict(full):
            del full["hydra"]  # the task gets the job's config only
        return full

    yield make, parent.info.run_id
    HydraConfig.instance().cfg = None


def test_a_sweep_job_tells_its_parent_and_an_identical_one_is_reused(client, sweep_job) -> None:
    from runner.job import run as job

    make, parent = sweep_job
    value = job.run(make(3))
    (run,) = job_runs(client)
    tags = run.data.tags
    assert (tags["runner.job_num"], tags["runner.output_dir"], tags["mlflow.parentRunId"]) == ("3", "/out/3", parent)
    assert tags["runner.model"] == "logreg" and tags["runner.overrides"] == "dataset.n_samples=300"  # Hydra's choices
    assert run.info.run_name == "logreg+none" and value == run.data.metrics["f1"]
    assert job.run(make(4)) == value and len(job_runs(client)) == 1
    parent_tags = client.get_run(parent).data.tags
    assert parent_tags["runner.job.3"] == parent_tags["runner.job.4"] == parent_tags["runner.reused.4"] == run.info.run_id
    assert "runner.reused.3" not in parent_tags


def test_a_sweep_job_that_fails_is_a_failed_run_and_nan_for_the_sweeper(client, sweep_job) -> None:
    from runner.job import run as job

    make, parent = sweep_job
    assert math.isnan(job.run(make(0, "dataset.test_size=1.5")))  # refused before training
    assert math.isnan(job.run(make(1, "+model.l1_ratio=1.0")))      # failed inside fit
    runs = {r.data.tags["runner.job_num"]: r for r in job_runs(client)}
    assert {n: r.info.status for n, r in runs.items()} == {"0": "FAILED", "1": "FAILED"}
    assert runs["0"].data.tags["runner.failure"].startswith("dataset.test_size=1.5: must be a number in (0, 1)")
    assert "lbfgs supports only" in runs["1"].data.tags["runner.failure"]
    parent_tags = client.get_run(parent).data.tags
    assert (parent_tags["runner.job.0"], parent_tags["runner.job.1"]) == (runs["0"].info.run_id, runs["1"].info.run_id)
    assert logged_models(client) == 0
