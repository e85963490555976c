"""Hydra callbacks: sweep-level work in the launching process (see runner.sweep)."""
from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepCallback(Callback):
    """Opens the sweep's parent run before jobs fan out; closes it after the last job."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from runner import sweep

        sweep.start(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from runner import sweep

        sweep.close()
