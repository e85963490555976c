"""One job -> one MLflow run: its lifecycle and batched logging.

The run is created with the job's own start time (so it spans data, fit, evaluation and
logging) and always ends in a final state: FINISHED, FAILED (reason tag + traceback artifact)
or KILLED (Ctrl-C, SIGTERM). Everything is logged in a few batched calls. It records where its
process runs and beats a heartbeat while open (runner.track.liveness); a run whose final status
could not be written (a store locked past `runner.lock_wait`) stays RUNNING and is closed as KILLED
by the next command that opens the store.
"""
from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from runner.errors import Terminated, exception_line, sigterm_as_exception
from runner.track import liveness, names
from runner.track.secrets import redact_text
from runner.track.store import StoreLocked, is_locked, waiting_for_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)


@contextlib.contextmanager
def job_run(
    client: MlflowClient, experiment_id: str, run_name: str, tags: Mapping[str, str], start_time: float,
    stale_after: float = 600.0,
) -> Iterator[Run]:
    """Create the job's run (already started at `start_time`), make it active, and close it.

    FINISHED on success; KILLED on Ctrl-C or SIGTERM; FAILED otherwise, with a one-line reason
    tag and the traceback as an artifact. The exception always propagates. A store locked past
    the wait (`StoreLocked`) leaves the run RUNNING: its status cannot be written now, and the next
    command closes it (runner.track.liveness). Pass a `runner.track.store.client` to wait out locks.
    """
    run = client.create_run(
        experiment_id, start_time=int(start_time * 1000), tags={**tags, **liveness.tags()}, run_name=run_name
    )
    run_id = run.info.run_id
    _start_active(client, run_id)
    heartbeat = liveness.Heartbeat(client, run_id, stale_after)
    try:
        try:
            with sigterm_as_exception():
                yield run
        finally:
            heartbeat.stop()
    except StoreLocked:
        _forget_active_run()
        raise
    except (KeyboardInterrupt, Terminated):
        client.set_tag(run_id, names.FAILURE, "interrupted")
        _end(client, run_id, "KILLED")
        raise
    except BaseException as e:
        close_failed(client, run_id, e)
        _end(client, run_id, "FAILED")
        raise
    else:
        _end(client, run_id, "FINISHED")


def _start_active(client: MlflowClient, run_id: str) -> None:
    """`mlflow.start_run(run_id)` (the fluent calls of log_model and log_input need an active run), waiting out a lock."""
    import mlflow

    waiting_for_lock(lambda: mlflow.start_run(run_id=run_id), client.tracking_uri)


def _end(client: MlflowClient, run_id: str, status: str) -> None:
    """End the active run with `status`; when the store is locked, `client` writes it (waiting out the lock)."""
    import mlflow

    try:
        mlflow.end_run(status)  # lets go of the active run first, then writes the status
    except Exception as e:
        if not is_locked(e):
            raise
        client.set_terminated(run_id, status)


def _forget_active_run() -> None:
    """Let go of the active run without writing to the (locked) store.

    `mlflow.end_run` would write first and wait out MLflow's 20 s again; left active, MLflow's atexit
    hook would end it FINISHED. MLflow has no public way to do only this.
    """
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    if stack:
        stack.pop()


def close_failed(client: MlflowClient, run_id: str, e: BaseException) -> None:
    """Record why a run failed: reason tag and the traceback artifact (one log line if the store refuses)."""
    try:
        client.set_tag(run_id, names.FAILURE, redact_text(exception_line(e)))
    except Exception as err:  # the store itself may be what failed; the status still matters most
        log.warning("could not record the failure of run %s: %s", run_id, exception_line(err))
        return
    try:
        client.log_text(run_id, redact_text("".join(traceback.format_exception(e))), names.TRACEBACK)
    except Exception as err:  # e.g. the artifact location cannot be written: the reason tag already says so
        log.debug("could not write the traceback of run %s: %s", run_id, exception_line(err))


def record_failed(client: MlflowClient, experiment_id: str, run_name: str, tags: Mapping[str, str],
                  start_time: float, e: BaseException) -> str:
    """A run that failed before it could start (e.g. its config was refused): created FAILED with its reason."""
    run = client.create_run(experiment_id, start_time=int(start_time * 1000), tags={**tags, **liveness.tags()},
                            run_name=run_name)
    close_failed(client, run.info.run_id, e)
    client.set_terminated(run.info.run_id, "FAILED")
    return str(run.info.run_id)


def log_job(
    client: MlflowClient,
    run_id: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    model_id: str | None = None,
    series: Mapping[str, Sequence[float]] | None = None,
) -> None:
    """Params, metrics and tags in batched calls (MLflow allows 100 params/tags, 1000 metrics per call).

    With `model_id` the metrics are also the LoggedModel's: one write does what `log_model` would
    otherwise do afterwards by reading back every metric's history and logging it a second time.
    `series` are metrics with one value per step (e.g. a cross-validation fold per step).
    """
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    params_l = [Param(k, v) for k, v in params.items()]
    tags_l = [RunTag(k, str(v)) for k, v in tags.items()]
    metrics_l = [Metric(k, float(v), now, 0, model_id=model_id) for k, v in metrics.items()]
    metrics_l += [Metric(k, float(v), now, step, model_id=model_id)
                  for k, values in (series or {}).items() for step, v in enumerate(values)]
    batches = max(-(-len(params_l) // 100), -(-len(tags_l) // 100), -(-len(metrics_l) // 1000), 1)
    for b in range(batches):
        client.log_batch(
            run_id,
            metrics=metrics_l[b * 1000 : (b + 1) * 1000],
            params=params_l[b * 100 : (b + 1) * 100],
            tags=tags_l[b * 100 : (b + 1) * 100],
            synchronous=True,
        )


def find_finished(client: MlflowClient, experiment_id: str, identity: str) -> Run | None:
    """The newest FINISHED run of this experiment with the same identity, if any."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{names.IDENTITY}` = '{identity}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def all_runs(client: MlflowClient, experiment_ids: list[str], filter_string: str = "") -> list[Run]:
    """Every run matching the filter, following MLflow's pages."""
    out: list[Run] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string=filter_string, max_results=1000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out
