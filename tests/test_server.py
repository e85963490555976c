"""A team tracking server: a real `mlflow server` on loopback, PostgreSQL behind it, jobs over HTTP."""
from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np

from runner import data
from runner.config import cpu_count
from test_parallel import finished_sweep


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
