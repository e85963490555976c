"""One job -> one MLflow run: its lifecycle and batched logging.

The run is created with the job's own start time (so it spans data, fit, evaluation and
logging) and always ends in a final state: FINISHED, FAILED (reason tag + traceback artifact)
or KILLED (Ctrl-C, SIGTERM). Everything is logged in a few batched calls.
"""
from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from runner.errors import Terminated, exception_line, sigterm_as_exception
from runner.track import names
from runner.track.secrets import redact_text

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)


@contextlib.contextmanager
def job_run(
    client: MlflowClient, experiment_id: str, run_name: str, tags: Mapping[str, str], start_time: float
) -> Iterator[Run]:
    """Create the job's run (already started at `start_time`), make it active, and close it.

    FINISHED on success; KILLED on Ctrl-C or SIGTERM; FAILED otherwise, with a one-line reason
    tag and the traceback as an artifact. The exception always propagates.
    """
    import mlflow

    run = client.create_run(
        experiment_id, start_time=int(start_time * 1000), tags=dict(tags), run_name=run_name
    )
    run_id = run.info.run_id
    mlflow.start_run(run_id=run_id)
    try:
        with sigterm_as_exception():
            yield run
    except (KeyboardInterrupt, Terminated):
        client.set_tag(run_id, names.FAILURE, "interrupted")
        mlflow.end_run("KILLED")
        raise
    except BaseException as e:
        close_failed(client, run_id, e)
        mlflow.end_run("FAILED")
        raise
    else:
        mlflow.end_run("FINISHED")


def close_failed(client: MlflowClient, run_id: str, e: BaseException) -> None:
    """Record why a run failed: reason tag and the traceback artifact."""
    try:
        client.set_tag(run_id, names.FAILURE, redact_text(exception_line(e)))
        client.log_text(run_id, redact_text("".join(traceback.format_exception(e))), names.TRACEBACK)
    except Exception:  # the store itself may be what failed; the status still matters most
        log.warning("could not record the failure of run %s", run_id, exc_info=True)


def record_failed(client: MlflowClient, experiment_id: str, run_name: str, tags: Mapping[str, str],
                  start_time: float, e: BaseException) -> str:
    """A run that failed before it could start (e.g. its config was refused): created FAILED with its reason."""
    run = client.create_run(experiment_id, start_time=int(start_time * 1000), tags=dict(tags), run_name=run_name)
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
