"""Sweeps on Ray: Hydra's Ray launcher on a local Ray instance, jobs logging to a real tracking server."""
from __future__ import annotations

import csv
from pathlib import Path

import mlflow
import pytest
from omegaconf import OmegaConf

from helpers import finished_sweep

# a local Ray instance, jobs logging to the team server (the preset: config/test_compose.py)
pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.server]


def test_ray_sweep_logs_to_the_server_from_its_config(tracking_server, run_cli, tmp_path: Path) -> None:
    url = tracking_server["url"]
    # A decoy in the Ray workers' environment: jobs must log where their config says, not here.
    decoy = tmp_path / "decoy" / "mlflow.db"
    run_cli("-m", "launcher=ray", "+hydra.launcher.ray.init.num_cpus=2",
            f"+hydra.launcher.ray.init.runtime_env.env_vars.MLFLOW_TRACKING_URI=sqlite:///{decoy}",
            "model=logreg,rf", "sampler=none,smotetomek", "dataset.n_samples=400",
            "mlflow.experiment_name=ray-sweep", env={"MLFLOW_TRACKING_URI": url, "RAY_USAGE_STATS_ENABLED": "0"})
    assert not decoy.exists()

    client = mlflow.MlflowClient(url)
    parent, jobs = finished_sweep(client, "ray-sweep", 4)
    assert {(r.data.tags["runner.model"], r.data.tags["runner.sampler"]) for r in jobs} == {
        (m, s) for m in ("logreg", "rf") for s in ("none", "smotetomek")}
    # Ray reserves one CPU per job: the job's estimators get one thread
    assert all(r.data.params["model.n_jobs"] == "1" for r in jobs if r.data.tags["runner.model"] == "rf")

    # the tracking URI and the parent run id reached the workers in the job's config
    some = jobs[0]
    cfg = OmegaConf.load(client.download_artifacts(some.info.run_id, "resolved_config.yaml"))
    assert cfg.mlflow.tracking_uri == url and cfg.mlflow.parent_run_id == parent.info.run_id

    # the leaderboard: summary.csv in the sweep folder, one FINISHED row per job, best first
    (sweep_dir,) = {Path(r.data.tags["runner.output_dir"]).parent for r in jobs}
    with open(sweep_dir / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["run_id"] for r in rows} == {r.info.run_id for r in jobs}
    assert all(r["status"] == "FINISHED" for r in rows)
    f1 = [float(r["f1"]) for r in rows]
    assert f1 == sorted(f1, reverse=True)
    by_id = {r.info.run_id: r for r in jobs}
    assert all(abs(float(r["f1"]) - by_id[r["run_id"]].data.metrics["f1"]) < 1e-4 for r in rows)
    assert "summary.csv" in {a.path for a in client.list_artifacts(parent.info.run_id)}
