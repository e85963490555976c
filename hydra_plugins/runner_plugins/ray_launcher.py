"""`launcher=ray`: Hydra's Ray launcher, with a lost task recorded as its job's failure.

The preset sets `remote.max_retries: 0` (Ray would silently run a task whose worker died up to 3
more times). Hydra's launcher then raises the first lost task's error for the whole batch; this one
waits for each task on its own: a task whose worker or node died is recorded FAILED (`worker
process died (WorkerCrashedError)`, runner.sweep.lifecycle) and the other tasks' results are kept.
It also takes explicit job numbers (`launch_cells`), so a preflight that drops invalid cells keeps
the grid's numbers.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, setup_globals
from omegaconf import open_dict

from hydra_plugins.runner_plugins.joblib_launcher import lost_job

log = logging.getLogger(__name__)

try:
    from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher
except ImportError:  # pragma: no cover - without the [ray] extra there is no Ray launcher to extend
    RayLauncher = None  # type: ignore[assignment,misc]


if RayLauncher is not None:

    class ResilientRayLauncher(RayLauncher):
        """Hydra's Ray launcher, one `ray.get` per task: a lost task costs its job only."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            return self.launch_cells([(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)])

        def launch_cells(self, cells: Sequence[tuple[int, Sequence[str]]]) -> list[JobReturn]:
            import ray
            from hydra_plugins.hydra_ray_launcher._launcher_util import launch_job_on_ray, start_ray
            from ray import exceptions

            assert self.config is not None and self.hydra_context is not None and self.task_function is not None
            setup_globals()
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            sweep_dir.mkdir(parents=True, exist_ok=True)
            log.info("Ray Launcher is launching %d jobs, sweep output dir: %s", len(cells), sweep_dir)
            self.ray_cfg.init.setdefault("object_store_memory", 78643200)  # as Hydra's launcher
            start_ray(self.ray_cfg.init)

            tasks: list[tuple[Sequence[str], Any, Any]] = []
            for idx, overrides in cells:
                log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
                sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
                with open_dict(sweep_config):
                    sweep_config.hydra.job.id = f"job_id_for_{idx}"
                    sweep_config.hydra.job.num = idx
                    ref = launch_job_on_ray(self.hydra_context, self.ray_cfg.remote, sweep_config, self.task_function,
                                            Singleton.get_state())
                tasks.append((overrides, sweep_config, ref))
            lost = (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.OutOfMemoryError,
                    exceptions.LocalRayletDiedError, exceptions.ObjectLostError)
            results: list[JobReturn] = []
            for overrides, sweep_config, ref in tasks:
                try:
                    results.append(ray.get(ref))
                except lost as e:
                    results.append(lost_job(sweep_config, overrides, f"worker process died ({type(e).__name__})"))
            return results
