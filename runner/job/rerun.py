"""Train any recorded run again, from its logged resolved config, as a new run (`python -m runner.rerun`).

The run's `resolved_config.yaml` is loaded as it was logged (every interpolation already resolved,
so the values are exactly the original's, whatever the defaults in conf/ are today), its every
`_target_` checked against the allow-list before anything is built, then trained again as a new
run of the same experiment (never reusing a finished one) tagged `runner.rerun_of=<run_id>`, with
the original's dataset/model/sampler choices and overrides. A change of code version or dataset
digest since the original is printed before training; with neither, every metric but timings
matches the original's to 1e-9.

Values redacted when logged (secret-looking keys, credentials in URIs) cannot be recovered from
the record: a config that still holds one is refused until `--set key=value` supplies it. The
tracking store is this command's (`MLFLOW_TRACKING_URI` or the embedded one), never the logged
`mlflow.tracking_uri`; the new run is not registered unless `--register` is given.
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from runner.errors import UserError, exception_line
from runner.job.context import JobContext
from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from runner.job.run import Job

log = logging.getLogger(__name__)


def load_config(client: MlflowClient, run_id: str, overrides: Sequence[str] = ()) -> tuple[Run, DictConfig]:
    """The run and its logged resolved config, checked (schema, allow-list, no redacted values)."""
    from mlflow.exceptions import MlflowException

    from runner.config import allowlist
    from runner.config.schema import Config
    from runner.track import logged as logged_run
    from runner.track.params import flatten
    from runner.track.secrets import REDACTED

    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise UserError(f"run {run_id}: not found in {client.tracking_uri}") from None
    try:
        logged = logged_run.config(client, run_id)
    except (MlflowException, OSError):
        raise UserError(f"run {run_id}: has no {names.RESOLVED_CONFIG} artifact (not a runner job run)") from None
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(Config), logged, OmegaConf.from_dotlist(list(overrides)))
    except Exception as e:  # a record that no longer fits the schema, or a bad --set
        raise UserError(f"run {run_id}: its config does not fit today's schema: {exception_line(e)}") from None
    allowlist.check(cfg)  # before anything is instantiated
    hidden = [k for k, v in flatten(OmegaConf.to_container(cfg)).items() if isinstance(v, str) and REDACTED in v]
    if hidden:
        raise UserError(f"run {run_id}: {', '.join(hidden)} was redacted when logged and cannot be recovered; "
                        f"supply it with --set {hidden[0]}=...")
    cfg.rerun = True
    cfg.mlflow.parent_run_id = None
    cfg.mlflow.tracking_uri = None
    assert isinstance(cfg, DictConfig)
    return run, cfg


def differences(run: Run, job: Job) -> list[str]:
    """What changed since the original: code version and dataset digest."""
    from runner.track import identity

    tags = run.data.tags
    out = []
    was, now = tags.get(names.CODE_VERSION), identity.code_version()
    if was != now:
        out.append(f"code version differs: original {was}, now {now} (the job's code changed)")
    was, now = tags.get(names.DATA_DIGEST), job.split.digest
    if was != now:
        out.append(f"dataset digest differs: original {was}, now {now} (the data changed)")
    return out


def rerun(run_id: str, overrides: Sequence[str] = (), register: bool = False) -> str:
    """Train the run's config again as a new run; returns the new run's id."""
    import mlflow

    from runner.job import run as job
    from runner.registry.policy import Policy
    from runner.track import runs, store

    start = time.time()
    uri = store.resolve_uri(None)
    client = mlflow.MlflowClient(uri)
    run, cfg = load_config(client, run_id, overrides)
    if not register:
        cfg.registry.register = False
    tags = run.data.tags
    keys = {"dataset": names.DATASET, "model": names.MODEL, "sampler": names.SAMPLER}
    ctx = JobContext(choices={k: tags[t] for k, t in keys.items() if t in tags},
                     overrides=(*tags.get(names.OVERRIDES, "").split(), *overrides))
    planned = job.plan(cfg, ctx)
    for line in differences(run, planned):
        print(f"note: {line}; metrics may differ from the original's", file=sys.stderr)
    planned.tags[names.RERUN_OF] = run_id
    mlflow.set_tracking_uri(uri)
    experiment_id = store.prepare(uri, cfg.mlflow.experiment_name)
    with runs.job_run(client, experiment_id, planned.name, planned.tags, start) as active:
        new_id = str(active.info.run_id)
        job.train_and_log(client, new_id, planned, ctx, Policy.of(cfg, multirun=False))
    return new_id


def compare(client: MlflowClient, original: str, new: str) -> list[tuple[str, float, float]]:
    """(metric, original, new) for every metric of the original but timings."""
    a, b = client.get_run(original).data.metrics, client.get_run(new).data.metrics
    return [(k, a[k], b.get(k, float("nan"))) for k in sorted(a) if not k.endswith("_seconds")]
