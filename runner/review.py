"""Rebuild a past sweep's (or a whole experiment's) leaderboard from MLflow alone.

    python -m runner.review                          # the latest sweep in the store
    python -m runner.review --sweep <parent run id>  # one sweep (reused jobs included)
    python -m runner.review --experiment iris        # every job run of an experiment
    python -m runner.review --metric roc_auc --top 5 --out review/

The store is `$MLFLOW_TRACKING_URI`, else the embedded `outputs/mlflow.db` under the current folder.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from runner.evaluate import MAIN_METRICS


def parse(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m runner.review", description=__doc__.split("\n\n")[0])
    which = p.add_mutually_exclusive_group()
    which.add_argument("--sweep", metavar="RUN_ID", help="a sweep's parent run id (default: the latest sweep)")
    which.add_argument("--experiment", metavar="NAME",
                       help="an experiment's name or id: every job run in it, not just one sweep")
    p.add_argument("--metric", choices=MAIN_METRICS,
                   help="rank by this metric (default: the sweep's optimized_metric, else f1)")
    p.add_argument("--top", type=int, metavar="N", help="keep only the N best rows")
    p.add_argument("--out", type=Path, metavar="DIR", help="also write summary.csv, summary.md, comparison.png here")
    p.add_argument("--tracking-uri", help="the MLflow store (default: $MLFLOW_TRACKING_URI, else outputs/mlflow.db)")
    args = p.parse_args(argv)
    if args.top is not None and args.top < 1:
        p.error(f"--top {args.top}: must be 1 or more")
    return args


class NotFound(LookupError):
    """Nothing to review: said in one line."""


def collect(client: Any, args: argparse.Namespace) -> tuple[list, str, str]:
    """The rows, the metric and the title that the arguments pick."""
    from mlflow.exceptions import MlflowException

    from runner import leaderboard

    if args.experiment:
        exp = client.get_experiment_by_name(args.experiment)
        if exp is None and args.experiment.isdigit():
            try:
                exp = client.get_experiment(args.experiment)
            except MlflowException:
                exp = None
        if exp is None:
            names = ", ".join(sorted(e.name for e in client.search_experiments())) or "none"
            raise NotFound(f"no experiment {args.experiment!r} in the store (experiments: {names})")
        rows = leaderboard.experiment_rows(client, exp.experiment_id)
        if not rows:
            raise NotFound(f"experiment {exp.name!r} has no job runs")
        metric = args.metric or "f1"
        return leaderboard.sort(rows, metric), metric, f"experiment {exp.name}: {len(rows)} runs by {metric}"

    if args.sweep:
        try:
            parent = client.get_run(args.sweep)
        except MlflowException:
            raise NotFound(f"no run {args.sweep!r} in the store") from None
        if parent.data.tags.get(leaderboard.SWEEP_TAG) != "true":
            raise NotFound(f"run {args.sweep} is not a sweep's parent run (tag {leaderboard.SWEEP_TAG}=true)")
    else:
        parent = leaderboard.latest_sweep(client)
        if parent is None:
            raise NotFound("no sweep in the store yet (run `python run.py -m ...` first, or pick --experiment)")
    metric = args.metric or parent.data.tags.get("runner.optimized_metric") or "f1"
    rows = leaderboard.sort(leaderboard.sweep_rows(client, parent), metric)
    return rows, metric, leaderboard.sweep_title(parent, len(rows), metric)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the leaderboard (and write its files with --out); 0 on success, 2 when nothing matches."""
    args = parse(argv)
    import mlflow

    from runner import leaderboard, store

    uri = args.tracking_uri or store.resolve_uri()
    db = store.sqlite_path(uri)
    if db is not None and not db.exists():  # opening it would create an empty store
        print(f"error: no MLflow store at {db} (set MLFLOW_TRACKING_URI or --tracking-uri)", file=sys.stderr)
        return 2
    client = mlflow.MlflowClient(uri)
    try:
        rows, metric, title = collect(client, args)
    except NotFound as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.top is not None and len(rows) > args.top:
        title = f"{title} (top {args.top})"
        rows = rows[: args.top]
    leaderboard.print_table(rows, metric, title)
    if args.out:
        leaderboard.write_all(rows, metric, args.out, title)
        print(f"files: {args.out}/summary.csv, summary.md, comparison.png")
    summary = leaderboard.failure_summary(rows)
    if summary:
        print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    from runner import shutdown

    shutdown.run(main)
