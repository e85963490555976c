"""Which runs a review shows: the latest sweep, a given sweep (reused jobs included) or a whole experiment."""
from __future__ import annotations

from typing import TYPE_CHECKING

from runner.sweep import leaderboard
from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient


class NotFound(LookupError):
    """Nothing to review: said in one line."""


def collect(client: MlflowClient, sweep: str | None = None, experiment: str | None = None,
            metric: str | None = None) -> tuple[list[leaderboard.Row], str, str]:
    """The rows (ranked), the metric and the title for a sweep's parent run id, an experiment, or the latest sweep."""
    from mlflow.exceptions import MlflowException

    if experiment:
        exp = client.get_experiment_by_name(experiment)
        if exp is None and experiment.isdigit():
            try:
                exp = client.get_experiment(experiment)
            except MlflowException:
                exp = None
        if exp is None:
            known = ", ".join(sorted(e.name for e in client.search_experiments())) or "none"
            raise NotFound(f"no experiment {experiment!r} in the store (experiments: {known})")
        rows = leaderboard.experiment_rows(client, exp.experiment_id)
        if not rows:
            raise NotFound(f"experiment {exp.name!r} has no job runs")
        metric = metric or "f1"
        return leaderboard.sort(rows, metric), metric, f"experiment {exp.name}: {len(rows)} runs by {metric}"

    if sweep:
        try:
            parent = client.get_run(sweep)
        except MlflowException:
            raise NotFound(f"no run {sweep!r} in the store") from None
        if parent.data.tags.get(names.SWEEP) != "true":
            raise NotFound(f"run {sweep} is not a sweep's parent run (tag {names.SWEEP}=true)")
    else:
        latest = leaderboard.latest_sweep(client)
        if latest is None:
            raise NotFound("no sweep in the store yet (run `python run.py -m ...` first, or pick --experiment)")
        parent = latest
    metric = metric or parent.data.tags.get(names.OPTIMIZED_METRIC) or "f1"
    rows = leaderboard.sort(leaderboard.sweep_rows(client, parent), metric)
    return rows, metric, leaderboard.sweep_title(parent, len(rows), metric)
