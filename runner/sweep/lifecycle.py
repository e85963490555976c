"""A multirun's life in the launching process: parent run before the jobs, leaderboard after.

Hydra calls `on_multirun_end` only when no job raised, so `close()` is also called by the command
line (runner.cli.run) after Hydra returns or exits; it runs once. The parent run's id and the tracking URI reach the
jobs as overrides in their config (an environment variable would never reach a Ray worker).
"""
from __future__ import annotations

import copy
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, open_dict, read_write

from runner.errors import raise_terminated
from runner.registry.policy import Policy
from runner.sweep import warmup
from runner.sweep.overrides import quoted
from runner.track import liveness, names, store
from runner.track.secrets import redact_text

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from runner.job.context import JobContext

log = logging.getLogger(__name__)


@dataclass
class Sweep:
    """State of the sweep this process launched."""

    uri: str
    experiment_id: str
    parent_run_id: str
    folder: Path
    metric: str
    policy: Policy
    overrides: list[str] = field(default_factory=list)
    closed: bool = False
    exit_code: int = 0
    heartbeat: liveness.Heartbeat | None = None  # the parent run's, while this process holds it open


_current: Sweep | None = None


def current() -> Sweep | None:
    """The sweep this process launched, if any."""
    return _current


def start(config: DictConfig) -> Sweep:
    """Prepare the store and experiment, open the parent run, hand its id to every job."""
    global _current
    warm = warmup.start(config)  # a parallel launcher's workers import the ML stack meanwhile
    try:

        uri = store.resolve_uri(config.mlflow.tracking_uri)
        store.configure(config.get("runner"))  # this sweep's lock wait and staleness for orphaned runs
        experiment_id = store.prepare(uri, config.mlflow.experiment_name)
        folder = Path(config.hydra.sweep.dir).resolve()
        overrides = [redact_text(str(o)) for o in config.hydra.overrides.task]
        client = store.client(uri)
        parent = client.create_run(
            experiment_id,
            run_name=f"sweep {folder.parent.name}/{folder.name}",
            tags={names.SWEEP: "true", names.SWEEP_DIR: str(folder), names.OVERRIDES: " ".join(overrides),
                  names.OPTIMIZED_METRIC: str(config.optimized_metric), **liveness.tags()},
        )
    finally:
        if warm is not None:
            warm.join()
    parent_id = parent.info.run_id
    client.log_param(parent_id, "overrides", " ".join(overrides)[:6000] or "(none)")
    # Into hydra.overrides.hydra, which every launcher prepends to each job's own overrides
    # (ConfigLoader.load_sweep_config): the jobs get them in their config, but the launcher's
    # "#0 : model=rf ..." lines and the sweeper's job list show only what the user typed.
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.overrides.hydra.append(f"mlflow.parent_run_id={parent_id}")
        config.hydra.overrides.hydra.append(f"mlflow.tracking_uri={quoted(uri)}")
    _current = Sweep(uri, experiment_id, parent_id, folder, str(config.optimized_metric),
                     Policy.of(config, multirun=True), overrides)
    _current.heartbeat = liveness.keep_alive(client, parent_id, store.stale_after())
    signal.signal(signal.SIGTERM, raise_terminated)
    log.info("sweep parent run %s in %s", parent_id, uri)
    return _current


def close(interrupted: bool = False, signum: int = signal.SIGINT) -> int:
    """Leaderboard, files, parent status and a one-line summary; returns the exit code (once).

    Interrupted by signal `signum`, the code is the shell's 128 + signum (130 Ctrl-C, 143 SIGTERM).
    """
    from runner.sweep import callback, compare, leaderboard, render, report

    sweep = _current
    if sweep is None or sweep.closed:
        return sweep.exit_code if sweep else 0
    sweep.closed = True
    import mlflow

    client = mlflow.MlflowClient(sweep.uri)
    if interrupted:
        _kill_running_children(client, sweep)
    status = "KILLED" if interrupted else "FAILED"  # unless the leaderboard below says otherwise
    try:
        parent = client.get_run(sweep.parent_run_id)
        rows = leaderboard.sort(leaderboard.sweep_rows(client, parent), sweep.metric)
        title = leaderboard.sweep_title(parent, len(rows), sweep.metric)
        verdict = compare.mark_safely(client, rows, sweep.metric)  # tied with the best, or not
        render.print_table(rows, sweep.metric, title, verdict=verdict)
        files = render.write_all(rows, sweep.metric, sweep.folder, title, verdict)
        for path in files:
            client.log_artifact(sweep.parent_run_id, str(path))
        report.write(client, parent, rows, sweep.metric, sweep.folder, uri=sweep.uri, verdict=verdict)  # logs itself
        callback.record_best(client, sweep.parent_run_id, rows, sweep.metric)
        _log_search_result(client, sweep)
        if not interrupted:
            sweep.policy.after_sweep(client, sweep.uri, rows)
        summary = leaderboard.failure_summary(rows)
        if not interrupted and not summary:
            status = "FINISHED"
    finally:  # never leave the parent RUNNING, even if the leaderboard itself failed
        if sweep.heartbeat is not None:
            sweep.heartbeat.stop()
        client.set_terminated(sweep.parent_run_id, status)
    print(f"files: {sweep.folder}/{names.SUMMARY_CSV}, {names.SUMMARY_MD}, {names.COMPARISON_PNG}, {names.REPORT_HTML}; "
          f"parent run {sweep.parent_run_id}")
    sys.stdout.flush()
    if interrupted:
        print(f"sweep interrupted: {len(rows)} jobs recorded; run the same command again to resume "
              "(finished jobs are reused)", file=sys.stderr)
        sweep.exit_code = 128 + int(signum)
    elif summary:
        print(summary, file=sys.stderr)
        sweep.exit_code = 1
    return sweep.exit_code


def _log_search_result(client: MlflowClient, sweep: Sweep) -> None:
    """A sweeper's result file (Optuna's optimization_results.yaml: best params and value) on the parent."""
    from omegaconf import OmegaConf

    path = sweep.folder / names.SEARCH_RESULT
    if not path.is_file():
        return
    client.log_artifact(sweep.parent_run_id, str(path))
    result = OmegaConf.load(path)
    best = result.get("best_value") if isinstance(result, DictConfig) else None
    if isinstance(best, (int, float)):
        client.log_metric(sweep.parent_run_id, f"best_{sweep.metric}", float(best))
    print(f"search result: {path}")


def _kill_running_children(client: MlflowClient, sweep: Sweep) -> None:
    """Workers of a parallel launcher are not told of the interruption: close their runs here."""
    running = client.search_runs(
        [sweep.experiment_id],
        filter_string=f"tags.`{names.PARENT}` = '{sweep.parent_run_id}' and attributes.status = 'RUNNING'",
    )
    for run in running:
        client.set_tag(run.info.run_id, names.FAILURE, "interrupted")
        client.set_terminated(run.info.run_id, "KILLED")


def fail(reason: str) -> None:
    """The sweep stopped outside any job (e.g. Hydra could not compose a sweep value): the parent says why."""
    import mlflow

    sweep = _current
    if sweep is None:
        return
    client = mlflow.MlflowClient(sweep.uri)
    client.set_tag(sweep.parent_run_id, names.FAILURE, redact_text(reason))
    client.set_terminated(sweep.parent_run_id, "FAILED")


class WorkerDied(RuntimeError):
    """A job's process died under it (SIGKILL, the OOM killer, a crash in native code)."""


def job_context(job_config: DictConfig) -> tuple[DictConfig, JobContext]:
    """A sweep job's config (without the hydra node) and context as the job itself would see them,
    from its composed sweep config (hydra.job.num set) in the launching process."""
    from runner.job.context import HIDDEN_OVERRIDES, JobContext

    hc = job_config.hydra
    num = int(hc.job.num)
    folder = os.path.abspath(os.path.join(str(hc.sweep.dir), str(hc.sweep.subdir)))
    overrides = tuple(redact_text(str(o)) for o in hc.overrides.task if not str(o).lstrip("+~").startswith(HIDDEN_OVERRIDES))
    ctx = JobContext(dict(hc.runtime.choices), num, folder, overrides, multirun=True)
    task = copy.deepcopy(job_config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task, ctx


def _job_runs(client: MlflowClient, cfg: DictConfig, num: int) -> list[Run]:
    """The runs job `num` of this sweep made (children of the parent run with its job number)."""
    parent = cfg.mlflow.parent_run_id
    experiment = client.get_experiment_by_name(str(cfg.mlflow.experiment_name))
    if not parent or experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{names.PARENT}` = '{parent}' and tags.`{names.JOB_NUM}` = '{num}'",
    )


def record_lost_job(job_config: DictConfig, reason: str) -> None:
    """A job whose worker process died: its unfinished run becomes FAILED with `reason` (tag runner.failure);
    a job that died before it made a run gets a FAILED run with that reason, as an invalid job does."""
    import mlflow

    from runner.job.run import record_invalid

    cfg, ctx = job_context(job_config)
    assert ctx.num is not None
    uri = store.resolve_uri(cfg.mlflow.tracking_uri)
    client = mlflow.MlflowClient(uri)
    made = _job_runs(client, cfg, ctx.num)
    # RUNNING, or already closed KILLED as an orphan (runner.track.liveness) by another process: say what happened
    for run in made:
        if run.info.status != "FINISHED":
            client.set_tag(run.info.run_id, names.FAILURE, reason)
            client.set_terminated(run.info.run_id, "FAILED")
    if not made:
        record_invalid(cfg, ctx, uri, WorkerDied(reason), time.time())


def discard_cancelled_job(job_config: DictConfig) -> None:
    """A job cancelled because another job's worker died (it runs again): the run it had opened is closed
    KILLED and deleted, so the sweep shows the job once, as it ends the second time."""
    import mlflow

    cfg, ctx = job_context(job_config)
    assert ctx.num is not None
    client = mlflow.MlflowClient(store.resolve_uri(cfg.mlflow.tracking_uri))
    for run in _job_runs(client, cfg, ctx.num):
        if run.info.status in ("RUNNING", "KILLED"):  # KILLED: closed as an orphan meanwhile
            client.set_tag(run.info.run_id, names.FAILURE, "cancelled: another job's worker died; run again")
            client.set_terminated(run.info.run_id, "KILLED")
            client.delete_run(run.info.run_id)
