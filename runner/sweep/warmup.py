"""Start a joblib sweep's worker processes while the launching process prepares the store.

For Hydra's joblib launcher and the runner's own (`launcher=local-parallel`,
hydra_plugins/runner_plugins/joblib_launcher.py, which submits each job to the very pool
`joblib.Parallel` with the same arguments uses). The launcher spawns its loky workers only when it
launches the jobs, and each worker
then imports the ML stack (MLflow, scikit-learn, XGBoost, imbalanced-learn, matplotlib) before its
first job can start. The launching process meanwhile has nothing to do but wait. `start` asks
joblib for the same worker pool the launcher will ask for (same `Parallel` arguments, so joblib
hands the launcher the already-running workers: its reusable executor) and has each worker import
what a job imports, in a thread, while runner.sweep.lifecycle creates the store, the experiment and the
parent run. Nothing a job computes or logs changes; only when its imports happen.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

from omegaconf import DictConfig, OmegaConf

from runner.config.resources import launcher_jobs

log = logging.getLogger(__name__)


def imports() -> int:
    """What a job imports (run in a worker); returns the worker's pid."""
    import matplotlib

    matplotlib.use("Agg", force=False)  # as runner.train.plots does, before pyplot
    import imblearn.combine  # noqa: F401
    import imblearn.pipeline  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import xgboost  # noqa: F401

    import runner.job.run  # noqa: F401

    return os.getpid()


def joblib_arguments(launcher: DictConfig) -> dict[str, Any] | None:
    """The `joblib.Parallel` arguments a joblib launcher (Hydra's or the runner's subclass) will use, or None
    for another launcher."""
    if "JoblibLauncher" not in str(launcher.get("_target_", "")):
        return None
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

    container = OmegaConf.to_container(launcher, resolve=True)
    assert isinstance(container, dict)
    args = {str(k): v for k, v in container.items()}
    args.pop("_target_", None)
    args["backend"] = "loky"  # as the launcher does (it hard-codes loky)
    process_joblib_cfg(args)
    return args


class Warmup:
    """Workers importing in the background; `join()` waits for them (errors only logged)."""

    def __init__(self, args: dict[str, Any], workers: int) -> None:
        self.pids: list[int] = []
        self._thread = threading.Thread(target=self._run, args=(args, workers), name="runner-warmup", daemon=True)
        self._thread.start()

    def _run(self, args: dict[str, Any], workers: int) -> None:
        from joblib import Parallel, delayed

        try:
            self.pids = Parallel(**args)(delayed(imports)() for _ in range(workers))
        except Exception as e:  # a warm-up is an optimisation: the launcher will say what is wrong
            log.debug("worker warm-up failed: %s", e)

    def join(self) -> None:
        self._thread.join()
        log.debug("warm workers: %s", sorted(set(self.pids)))


def start(config: DictConfig) -> Warmup | None:
    """Warm the joblib launcher's workers in the background; None for other launchers."""
    args = joblib_arguments(config.hydra.launcher)
    return Warmup(args, launcher_jobs(config.hydra.launcher)) if args is not None else None
