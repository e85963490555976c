"""Local parallel sweeps: Hydra's joblib launcher (loky processes) on a fresh embedded store."""
from __future__ import annotations

import itertools
from pathlib import Path

import mlflow
import pytest
from omegaconf import OmegaConf

from helpers import compose_with_hydra, finished_sweep
from runner.config.resources import cpu_count

pytestmark = pytest.mark.slow  # real sweeps in subprocesses, loky worker processes


def test_joblib_sweep_on_a_fresh_embedded_store(run_cli, tmp_path: Path) -> None:
    # MLFLOW_TRACKING_URI empty: the real default, outputs/mlflow.db under the launch folder, not there yet
    db = tmp_path / "outputs" / "mlflow.db"
    assert not db.exists()
    run_cli("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=logreg,rf,xgb",
            "sampler=none,smotetomek", "registry.register=true", "dataset.n_samples=400",
            env={"MLFLOW_TRACKING_URI": ""})
    assert db.exists()
    client = mlflow.MlflowClient(f"sqlite:///{db}")
    _, jobs = finished_sweep(client, "synthetic-imbalanced", 6)

    # every job registered exactly one version, numbered 1..6 without collision
    versions = client.search_model_versions("name='synthetic-imbalanced-classifier'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4, 5, 6]
    assert {v.run_id for v in versions} == {r.info.run_id for r in jobs}
    assert {r.data.tags["runner.registered_version"] for r in jobs} == {
        f"synthetic-imbalanced-classifier/{i}" for i in range(1, 7)}

    # the jobs ran side by side (two loky workers), not one after the other
    spans = [(r.info.start_time, r.info.end_time) for r in jobs]
    assert any(a0 < b1 and b0 < a1 for (a0, a1), (b0, b1) in itertools.combinations(spans, 2))

    # no oversubscription: each job's estimators got cores / 2 threads, resolved in the worker
    share = str(max(1, cpu_count() // 2))
    for r in jobs:
        p = r.data.params
        if r.data.tags["runner.model"] in ("rf", "xgb"):
            assert p["model.n_jobs"] == share, (r.data.tags["runner.model"], p["model.n_jobs"])
        if r.data.tags["runner.sampler"] == "smotetomek":
            assert p["sampler.n_jobs"] == share

    (sweep_dir,) = {Path(r.data.tags["runner.output_dir"]).parent for r in jobs}
    hydra_cfg = OmegaConf.load(sweep_dir / "multirun.yaml")
    assert "joblib" in hydra_cfg.hydra.launcher._target_
    assert len((sweep_dir / "summary.csv").read_text().strip().splitlines()) == 1 + 6


def test_the_launcher_gets_the_workers_warmed_while_the_store_is_prepared() -> None:
    """runner.warmup asks joblib for the pool Hydra's joblib launcher will ask for: same processes."""
    import os

    from hydra.utils import instantiate
    from joblib import Parallel, delayed

    from runner.sweep import warmup

    cfg = compose_with_hydra(["launcher=local-parallel"])
    assert warmup.start(compose_with_hydra([])) is None  # the basic launcher has no workers
    warm = warmup.start(cfg)
    assert warm is not None
    warm.join()
    assert len(set(warm.pids)) == 2  # each worker imported the ML stack

    # the arguments Hydra's launcher passes to joblib.Parallel: its own kwargs, backend forced to loky
    launcher = instantiate(cfg.hydra.launcher)
    assert warmup.joblib_arguments(cfg.hydra.launcher) == {**launcher.joblib, "backend": "loky"}
    later = Parallel(**warmup.joblib_arguments(cfg.hydra.launcher))(delayed(os.getpid)() for _ in range(6))
    assert set(later) <= set(warm.pids)  # joblib reused the warm workers instead of starting new ones
