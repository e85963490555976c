"""Hydra callback: sweep-level work in the launching process (runner.sweep.lifecycle)."""
from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepCallback(Callback):
    """Opens the sweep's parent run before jobs fan out; closes it after the last job."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.errors import UserError
        from runner.sweep import lifecycle as sweep

        try:
            sweep.start(config)
        except UserError as e:
            # Hydra turns a callback's Exception into a warning and launches the jobs anyway:
            # SystemExit (not an Exception) stops the sweep here, with the command line's one-line message.
            raise SystemExit(f"error: {e}") from None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.sweep import lifecycle

        lifecycle.close()
