"""The Hydra callback (runner.sweep.callback): a sweep that cannot start stops with the command line's one line."""
from __future__ import annotations

import pytest

from helpers import compose_with_hydra, free_port
from runner.sweep import lifecycle
from runner.sweep.callback import SweepCallback


def test_a_sweep_whose_store_is_unreachable_stops_before_any_job() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    config = compose_with_hydra([f"mlflow.tracking_uri={uri}"])
    with pytest.raises(SystemExit) as stop:
        SweepCallback().on_multirun_start(config)
    assert str(stop.value.code).startswith(f"error: tracking server {uri} is unreachable")
    assert lifecycle.current() is None  # no parent run was opened


def test_closing_when_no_sweep_started_is_a_no_op() -> None:
    assert lifecycle.current() is None
    SweepCallback().on_multirun_end(compose_with_hydra([]))
    assert lifecycle.close() == 0
