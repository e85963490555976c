"""Checks of a composed config that need no data: what may be built and the top-level choices.

Each failure is a `UserError` naming the key, the bad value and what is allowed. Checks that need
the data (or the dataset's own parameters) are runner.train.checks.
"""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from runner.config import allowlist
from runner.config.schema import EVAL_KINDS, MAIN_METRICS
from runner.errors import UserError

REGISTER_CHOICES = (True, False, "best")


def config(cfg: DictConfig) -> None:
    """What may be built, the metric to optimise and the registration choice."""
    allowlist.check(cfg)
    if cfg.optimized_metric not in MAIN_METRICS:
        raise UserError(f"optimized_metric={cfg.optimized_metric!r}: allowed: {', '.join(MAIN_METRICS)}")
    if cfg.registry.register not in REGISTER_CHOICES:
        raise UserError(f"registry.register={cfg.registry.register!r}: allowed: true, false, best")
    evaluation(cfg.eval)


def _integer(key: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise UserError(f"{key}={value!r}: must be an integer >= {low}")


def evaluation(ev: Any) -> None:
    """eval.kind, its resamples, confidence, folds and repeats."""
    if ev.get("kind") not in EVAL_KINDS:
        raise UserError(f"eval.kind={ev.get('kind')!r}: allowed: {', '.join(EVAL_KINDS)} (eval=holdout or eval=cv)")
    _integer("eval.bootstrap", ev.get("bootstrap"), 1)
    confidence = ev.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise UserError(f"eval.confidence={confidence!r}: must be a number in (0, 1), e.g. 0.95")
    if ev.kind == "cv":
        _integer("eval.folds", ev.get("folds"), 2)
        _integer("eval.repeats", ev.get("repeats"), 1)
