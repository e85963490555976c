"""Rebuild a past sweep's (or a whole experiment's) leaderboard from MLflow alone.

    python -m runner.review                          # the latest sweep in the store
    python -m runner.review --sweep <parent run id>  # one sweep (reused jobs included)
    python -m runner.review --experiment iris        # every job run of an experiment
    python -m runner.review --metric roc_auc --top 5 --out review/
    python -m runner.review --html report.html      # one offline page: leaderboard, curves, importances

The store is `$MLFLOW_TRACKING_URI`, else the embedded `outputs/mlflow.db` under the current folder.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cli.common import error
from runner.config.schema import MAIN_METRICS
from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)
EXIT_ERROR = 2


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m runner.review", description=__doc__.split("\n\n")[0])
    which = p.add_mutually_exclusive_group()
    which.add_argument("--sweep", metavar="RUN_ID", help="a sweep's parent run id (default: the latest sweep)")
    which.add_argument("--experiment", metavar="NAME",
                       help="an experiment's name or id: every job run in it, not just one sweep")
    p.add_argument("--metric", choices=MAIN_METRICS,
                   help="rank by this metric (default: the sweep's optimized_metric, else f1)")
    p.add_argument("--top", type=int, metavar="N", help="keep only the N best rows")
    p.add_argument("--out", type=Path, metavar="DIR", help="also write summary.csv, summary.md, comparison.png here")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="also write a self-contained HTML report (leaderboard, curves, importances) to FILE")
    p.add_argument("--tracking-uri", help="the MLflow store (default: $MLFLOW_TRACKING_URI, else outputs/mlflow.db)")
    args = p.parse_args(argv)
    if args.top is not None and args.top < 1:
        p.error(f"--top {args.top}: must be 1 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Print the leaderboard (and write its files with --out); 0 on success, 2 when nothing matches."""
    args = parse(argv)
    with cyclic_gc_paused():
        return _review(args)


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the command runs (restored after).

    Reading thousands of runs builds hundreds of thousands of small objects (MLflow's entities and the
    SQLAlchemy rows behind them; rich's cells); each time their count grows by a quarter the collector walks
    them all again, which was 60% of loading 3,000 runs (5.8 s -> 2.3 s without it). The objects are freed by
    reference counting as before; only cycles wait for the collector, back on at the end (a review's peak
    memory is the same either way, ~380 MB for 3,000 runs).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _review(args: argparse.Namespace) -> int:
    import mlflow

    from runner.sweep import compare, leaderboard, render, select
    from runner.track import store

    uri = args.tracking_uri or store.resolve_uri()
    db = store.sqlite_path(uri)
    if db is not None and not db.exists():  # opening it would create an empty store
        error(f"no MLflow store at {db} (set MLFLOW_TRACKING_URI or --tracking-uri)")
        return EXIT_ERROR
    client = mlflow.MlflowClient(uri)
    close_orphans(client, args.experiment)
    try:
        rows, metric, title = select.collect(client, args.sweep, args.experiment, args.metric)
    except select.NotFound as e:
        error(str(e))
        return EXIT_ERROR
    if args.top is not None and len(rows) > args.top:
        title = f"{title} (top {args.top})"
        rows = rows[: args.top]
    verdict = compare.mark_safely(client, rows, metric)  # only the rows shown: fast on a large experiment
    render.print_table(rows, metric, title, verdict=verdict)
    if args.out:
        render.write_all(rows, metric, args.out, title, verdict)
        print(f"files: {args.out}/{names.SUMMARY_CSV}, {names.SUMMARY_MD}, {names.COMPARISON_PNG}")
    if args.html:
        from runner.sweep import report

        report.save(client, rows, metric, title, args.html, top=args.top or report.TOP, uri=uri, verdict=verdict)
        print(f"report: {args.html}")
    summary = leaderboard.failure_summary(rows)
    if summary:
        print(summary, file=sys.stderr)
    return 0


def close_orphans(client: MlflowClient, experiment: str | None) -> None:
    """Close orphaned runs (runner.track.liveness) of the experiment asked for, else of every experiment:
    one search. Never the command's failure (a read-only user gets no cleanup and no error)."""
    from runner.config.schema import RunnerConfig
    from runner.track import liveness

    try:
        if experiment:
            exp = client.get_experiment_by_name(experiment)
            if exp is None and experiment.isdigit():
                exp = client.get_experiment(experiment)
            ids = [exp.experiment_id] if exp is not None else []
        else:
            ids = [e.experiment_id for e in client.search_experiments(max_results=1000)]
    except Exception as e:  # select.collect reports a missing experiment itself
        log.debug("orphan check skipped: %s", e)
        return
    liveness.close_orphans_safely(client, ids, RunnerConfig.stale_after)
