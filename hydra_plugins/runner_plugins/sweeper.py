"""`hydra/sweeper: basic` (the default; also `runner`): Hydra's basic sweeper with a preflight.

After composing a batch and before launching it, every cell is checked as a single run would check
it (runner.sweep.preflight): the invalid ones are listed together in one table, recorded as FAILED
runs under the sweep's parent run, and only the valid ones are launched. Job numbers stay those of
the full grid: the runner's launcher (local-parallel) takes explicit numbers; any other launcher
gets each unbroken run of valid cells with its first number. `runner.preflight=false`: Hydra's
basic sweeper as it is (each job finds its own mistakes).
"""
# No `from __future__ import annotations`: Hydra executes plugin modules outside sys.modules while
# scanning them, where a dataclass with string annotations cannot be built.
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.runner_plugins.jobs import job_config

log = logging.getLogger(__name__)

Cell = tuple[int, Sequence[str]]


@dataclass
class PreflightBasicSweeperConf:
    _target_: str = "hydra_plugins.runner_plugins.sweeper.PreflightBasicSweeper"
    max_batch_size: Optional[int] = None  # noqa: UP045 - OmegaConf's structured configs need Optional on 3.10
    params: Optional[dict[str, str]] = None  # noqa: UP045


# The default sweeper: Hydra's `basic` name, so that a config overriding `hydra/sweeper` (hparams_search=...:
# optuna) still wins; an `override hydra/sweeper: runner` in the primary config would win over theirs.
# Outside a runner sweep (no parent run) it is exactly Hydra's BasicSweeper.
ConfigStore.instance().store(group="hydra/sweeper", name="basic", node=PreflightBasicSweeperConf, provider="runner")
ConfigStore.instance().store(group="hydra/sweeper", name="runner", node=PreflightBasicSweeperConf, provider="runner")


def contiguous(cells: Sequence[Cell]) -> list[list[Cell]]:
    """Cells grouped into runs of consecutive job numbers."""
    groups: list[list[Cell]] = []
    for cell in cells:
        if groups and groups[-1][-1][0] + 1 == cell[0]:
            groups[-1].append(cell)
        else:
            groups.append([cell])
    return groups


class PreflightBasicSweeper(BasicSweeper):
    """BasicSweeper that checks every cell of a batch before launching the valid ones."""

    def _preflight(self) -> bool:
        try:
            from runner.sweep import lifecycle
        except ImportError:  # another Hydra app in this environment (or an older runner): Hydra's basic sweeper
            return False

        assert self.config is not None
        return bool(OmegaConf.select(self.config, "runner.preflight", default=True)) and lifecycle.current() is not None

    def sweep(self, arguments: list[str]) -> Any:
        if not self._preflight():
            return super().sweep(arguments)
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        from runner.sweep import preflight

        params_conf = self._parse_config()
        params_conf.extend(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(parser.parse_overrides(params_conf), self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        returns: list[Sequence[JobReturn]] = []
        initial_job_idx = 0
        while not self.is_done():
            batch = self.get_job_batch()
            cells = [(initial_job_idx + i, list(o)) for i, o in enumerate(batch)]
            valid = preflight.check_cells(cells, self._compose, self.config)
            results = self._launch(valid)
            for r in results:
                _ = r.return_value  # as BasicSweeper: raise if a job raised
            initial_job_idx += len(batch)
            returns.append(results)
        return returns

    def _compose(self, num: int, overrides: Sequence[str]) -> DictConfig:
        """A cell's config as its job will get it (hydra.job.num set)."""
        assert self.config is not None and self.hydra_context is not None
        return job_config(self.hydra_context, self.config, num, overrides)

    def _launch(self, cells: list[Cell]) -> list[JobReturn]:
        """Launch the cells with their own job numbers."""
        assert self.launcher is not None
        if not cells:
            return []
        launch_cells = getattr(self.launcher, "launch_cells", None)
        if launch_cells is not None:
            return list(launch_cells(cells))
        results: list[JobReturn] = []
        tic = time.perf_counter()
        for group in contiguous(cells):
            results.extend(self.launcher.launch([list(o) for _, o in group], initial_job_idx=group[0][0]))
        log.debug("launched %d cells in %.2fs", len(cells), time.perf_counter() - tic)
        return results
