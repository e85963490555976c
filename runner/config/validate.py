"""Checks of a composed config that need no data: what may be built and the top-level choices.

Each failure is a `UserError` naming the key, the bad value and what is allowed. Checks that need
the data (or the dataset's own parameters) are runner.train.checks.
"""
from __future__ import annotations

from omegaconf import DictConfig

from runner.config import allowlist
from runner.config.schema import MAIN_METRICS
from runner.errors import UserError

REGISTER_CHOICES = (True, False, "best")


def config(cfg: DictConfig) -> None:
    """What may be built, the metric to optimise and the registration choice."""
    allowlist.check(cfg)
    if cfg.optimized_metric not in MAIN_METRICS:
        raise UserError(f"optimized_metric={cfg.optimized_metric!r}: allowed: {', '.join(MAIN_METRICS)}")
    if cfg.registry.register not in REGISTER_CHOICES:
        raise UserError(f"registry.register={cfg.registry.register!r}: allowed: true, false, best")
