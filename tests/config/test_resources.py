"""How many cores a job may use (runner.config.resources), and the schema's resolvers (runner.config.schema)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from helpers import compose, compose_with_hydra
from runner.config import resources, schema


def test_cpu_count_is_this_process_affinity() -> None:
    assert resources.cpu_count() == len(os.sched_getaffinity(0)) >= 1


@pytest.mark.parametrize("launcher, jobs", [
    ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, lambda cores: 1),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 3}, lambda cores: 3),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": -1}, lambda cores: cores),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": None}, lambda cores: 1),
    ({"_target_": "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"}, lambda cores: cores),
    ({"_target_": "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher", "ray": {"remote": {"num_cpus": 2}}},
     lambda cores: max(1, cores // 2)),
])
def test_jobs_at_once_per_launcher(launcher: dict, jobs) -> None:
    assert resources.launcher_jobs(OmegaConf.create(launcher)) == jobs(resources.cpu_count())


def test_the_presets_run_as_many_jobs_as_they_say() -> None:
    joblib = compose_with_hydra(["launcher=local-parallel"]).hydra.launcher
    assert resources.launcher_jobs(joblib) == 2
    assert resources.launcher_jobs(compose_with_hydra(["launcher=ray"]).hydra.launcher) == resources.cpu_count()


def test_outside_a_parallel_launcher_a_job_gets_every_core() -> None:
    assert resources.concurrent_jobs() == 1
    assert resources.threads_per_job() == resources.cpu_count()
    cfg = compose(["model=rf", "sampler=smotetomek"])
    assert cfg.model.n_jobs == cfg.sampler.n_jobs == cfg.sampler.tomek.n_jobs == resources.cpu_count()


def test_a_csv_dataset_is_named_after_its_file() -> None:
    assert schema.file_stem("examples/churn.csv") == "churn"
    assert schema.file_stem("/data/flowers.parquet") == "flowers"
    assert schema.file_stem("") == "csv"
    cfg = compose(["dataset=csv", "dataset.path=data/my-file.csv", "dataset.target=y"])
    assert cfg.dataset.name == "my-file" and cfg.mlflow.experiment_name == "my-file"
    assert cfg.registry.name == "my-file-classifier"


def test_launch_dir_outside_hydra_is_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert schema.launch_dir() == tmp_path


def test_register_is_idempotent() -> None:
    schema.register()
    schema.register()
    assert OmegaConf.has_resolver("runner.threads") and OmegaConf.has_resolver("runner.stem")
