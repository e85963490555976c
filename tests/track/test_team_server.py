"""A team tracking server: a real `mlflow server` on loopback, PostgreSQL behind it, jobs over HTTP."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest

from helpers import at_once, finished_sweep
from runner.config.resources import cpu_count
from runner.train import data

pytestmark = [pytest.mark.slow, pytest.mark.server]  # PostgreSQL and a real `mlflow server` (servers.py)


def test_parallel_sweep_against_a_team_server(tracking_server, postgres_db, run_cli, tmp_path: Path) -> None:
    url = tracking_server["url"]
    # the runner gets nothing but MLFLOW_TRACKING_URI=http://...; jobs run in two loky workers
    run_cli("-m", "launcher=local-parallel", "model=logreg,rf", "sampler=none,smotetomek",
            "dataset.n_samples=400", "registry.register=true", "mlflow.experiment_name=team-server",
            "registry.name=team-classifier", env={"MLFLOW_TRACKING_URI": url})
    assert not (tmp_path / "outputs" / "mlflow.db").exists()  # nothing went to an embedded store

    client = mlflow.MlflowClient(url)
    exp = client.get_experiment_by_name("team-server")
    assert exp.artifact_location.startswith("mlflow-artifacts:")  # the server stores artifacts itself
    parent, jobs = finished_sweep(client, "team-server", 4)
    assert {(r.data.tags["runner.model"], r.data.tags["runner.sampler"]) for r in jobs} == {
        (m, s) for m in ("logreg", "rf") for s in ("none", "smotetomek")}
    rf = [r for r in jobs if r.data.tags["runner.model"] == "rf"]
    assert all(r.data.params["model.n_jobs"] == str(max(1, cpu_count() // 2)) for r in rf)

    # parallel jobs registering to one model: unique versions 1..4, one per job
    versions = client.search_model_versions("name='team-classifier'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    assert {v.run_id for v in versions} == {r.info.run_id for r in jobs}

    # artifacts live under the server's --artifacts-destination; the sweep's files on the parent
    stored = list(tracking_server["artifacts"].rglob("resolved_config.yaml"))
    assert len([p for p in stored if any(r.info.run_id in str(p) for r in jobs)]) == 4
    assert {"summary.csv", "summary.md", "comparison.png"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}

    # a registered version loads back over HTTP and predicts
    best = max(jobs, key=lambda r: r.data.metrics["f1"])
    version = next(v.version for v in versions if v.run_id == best.info.run_id)
    mlflow.set_tracking_uri(url)
    try:
        model = mlflow.pyfunc.load_model(f"models:/team-classifier/{version}")
    finally:
        mlflow.set_tracking_uri(None)
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(client.download_artifacts(best.info.run_id, "resolved_config.yaml"))
    split = data.load_split(cfg.dataset)
    assert len(np.asarray(model.predict(split.X_test))) == len(split.X_test)

    # and it is PostgreSQL that holds the runs
    import psycopg2

    conn = psycopg2.connect(postgres_db.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM runs WHERE experiment_id = %s", (int(exp.experiment_id),))
            assert cur.fetchone()[0] == 5
    finally:
        conn.close()


def test_jobs_giving_a_new_model_its_first_challenger_at_once_all_succeed(tracking_server) -> None:
    """MLflow sets an alias by reading, then inserting or updating: two first sets at once collide.

    Seen in CI: one of four parallel jobs failed with PostgreSQL's UniqueViolation on the primary
    key of registered_model_aliases. Here four threads give fresh models their first challenger at
    the same moment, for several model names.
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from runner.registry import versions as registry
    from runner.track import models as tracking

    url = tracking_server["url"]
    client = mlflow.MlflowClient(url)
    experiment_id = client.create_experiment("alias-race")  # not set_experiment: no fluent state left behind
    mlflow.set_tracking_uri(url)
    try:
        X, y = pd.DataFrame({"x0": [0.0, 1.0, 2.0, 3.0]}), np.array([0, 0, 1, 1])
        with mlflow.start_run(experiment_id=experiment_id):
            info = tracking.log_model(LogisticRegression().fit(X, y), X, np.array([0, 1]))
    finally:
        mlflow.set_tracking_uri(None)
    for name in [f"alias-race-{i}" for i in range(8)]:
        client.create_registered_model(name)
        versions = [str(client.create_model_version(name, info.model_uri, model_id=info.model_id).version)
                    for _ in range(4)]

        def mark(version: str, go: Callable[[], Any], name: str = name) -> None:
            go()
            registry.mark_challenger(mlflow.MlflowClient(url), name, version)

        errors = at_once(mark, versions)
        assert not errors, errors[0]
        assert client.get_model_version_by_alias(name, "challenger").version in versions


def test_jobs_logging_the_same_new_dataset_at_once_all_succeed(tracking_server) -> None:
    """MLflow inserts a new dataset after reading that it is not there: parallel jobs collide on its key.

    Seen here: a parallel sweep's job failed with PostgreSQL's UniqueViolation on "dataset_pk" when
    two jobs logged the same training data at once. Six threads, each in its own run, log the
    same new frames at the same moment, for several experiments.
    """
    import pandas as pd

    from runner.track import inputs as tracking

    url = tracking_server["url"]
    client = mlflow.MlflowClient(url)
    for i in range(12):
        experiment_id = client.create_experiment(f"dataset-race-{i}")
        frame = pd.DataFrame({"x0": np.arange(20.0) + i, "target": np.arange(20) % 2})
        run_ids = [client.create_run(experiment_id).info.run_id for _ in range(6)]

        def log(run_id: str, go: Callable[[], Any], frame: pd.DataFrame = frame) -> None:
            mlflow.set_tracking_uri(url)
            with mlflow.start_run(run_id=run_id):  # each thread has its own active run
                go()
                tracking.log_datasets(frame.iloc[:15], frame.iloc[15:], "target", "race")

        errors = at_once(log, run_ids)
        mlflow.set_tracking_uri(None)
        assert not errors, errors[0]
        for run_id in run_ids:
            assert {d.dataset.name for d in client.get_run(run_id).inputs.dataset_inputs} == {"race-train", "race-test"}
