"""Which runs a review shows (runner.sweep.select): the latest sweep, a given sweep, or a whole experiment."""
from __future__ import annotations

import pytest

from helpers import hand_made_sweep
from runner.sweep import select
from runner.track import names


@pytest.fixture
def sweep(client, store_uri: str) -> dict:
    return hand_made_sweep(client, store_uri)


def test_the_latest_sweep_by_its_optimized_metric_else_f1(client, sweep: dict) -> None:
    rows, metric, title = select.collect(client)
    assert metric == "f1" and title == "sweep 2026-01-02/10-11-12: 3 jobs by f1"
    assert [r.job for r in rows] == ["2", "0", "1"]  # ranked: the reused job is best
    client.set_tag(sweep["parent"], names.OPTIMIZED_METRIC, "roc_auc")
    assert select.collect(client, sweep=sweep["parent"])[1] == "roc_auc"
    assert select.collect(client, sweep=sweep["parent"], metric="accuracy")[1] == "accuracy"


def test_an_experiment_by_name_or_id(client, sweep: dict) -> None:
    rows, metric, title = select.collect(client, experiment="sweeps")
    assert (metric, title) == ("f1", "experiment sweeps: 3 runs by f1") and len(rows) == 3
    assert select.collect(client, experiment=sweep["experiment"], metric="roc_auc")[2] == "experiment sweeps: 3 runs by roc_auc"


@pytest.mark.parametrize("kwargs, message", [
    ({"experiment": "nope"}, "no experiment 'nope' in the store (experiments: Default, sweeps)"),
    ({"experiment": "424242"}, "no experiment '424242' in the store"),
    ({"sweep": "0" * 32}, f"no run '{'0' * 32}' in the store"),
])
def test_nothing_found_is_said_in_one_line(client, sweep: dict, kwargs: dict, message: str) -> None:
    with pytest.raises(select.NotFound) as e:
        select.collect(client, **kwargs)
    assert str(e.value).startswith(message)


def test_a_job_is_no_sweep_and_an_experiment_without_jobs_is_empty(client, sweep: dict) -> None:
    with pytest.raises(select.NotFound, match=f"run {sweep['jobs'][0]} is not a sweep's parent run"):
        select.collect(client, sweep=sweep["jobs"][0])
    client.create_experiment("empty")
    with pytest.raises(select.NotFound, match="experiment 'empty' has no job runs"):
        select.collect(client, experiment="empty")
    for experiment in ("sweeps", "empty"):
        client.delete_experiment(client.get_experiment_by_name(experiment).experiment_id)
    with pytest.raises(select.NotFound, match=r"no sweep in the store yet"):
        select.collect(client)
