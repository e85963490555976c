"""What the runner's sweeper and launcher both need: one cell's config as its job will get it."""
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, open_dict


def job_config(hydra_context: Any, config: DictConfig, num: int, overrides: Sequence[str]) -> DictConfig:
    """The sweep config with a cell's overrides, numbered `num` (hydra.job.num and hydra.job.id set)."""
    composed = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(composed):
        composed.hydra.job.id = f"{composed.hydra.job.name}_{num}"
        composed.hydra.job.num = num
    return composed
