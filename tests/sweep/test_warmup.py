"""Warming a joblib sweep's workers (runner.sweep.warmup): which launchers, which arguments, failures only logged.

The real warm pool (loky processes reused by the launcher): sweep/test_joblib_launcher.py.
"""
from __future__ import annotations

import os

from omegaconf import OmegaConf

from helpers import compose_with_hydra
from runner.sweep import warmup


def test_only_the_joblib_launcher_is_warmed() -> None:
    assert warmup.start(compose_with_hydra([])) is None
    assert warmup.joblib_arguments(compose_with_hydra(["launcher=ray"]).hydra.launcher) is None


def test_the_arguments_are_the_launchers_with_loky_forced() -> None:
    args = warmup.joblib_arguments(compose_with_hydra(["launcher=local-parallel"]).hydra.launcher)
    assert args["n_jobs"] == 2 and args["backend"] == "loky" and "_target_" not in args
    custom = OmegaConf.create({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
                               "n_jobs": 3, "backend": "threading", "prefer": "threads"})
    assert warmup.joblib_arguments(custom)["backend"] == "loky"  # the launcher hard-codes loky


def test_a_worker_imports_what_a_job_imports() -> None:
    assert warmup.imports() == os.getpid()


def test_a_failed_warmup_is_no_error() -> None:
    warm = warmup.Warmup({"n_jobs": "not a number"}, 2)
    warm.join()
    assert warm.pids == []
