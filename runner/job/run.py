"""One job, start to end: config -> data -> pipeline -> fit -> evaluate -> track -> register.

`run(cfg)` is what run.py's Hydra task calls; it returns `optimized_metric` so sweepers can
optimise it. Nothing is written to the store until the config and data have passed validation.
"""
from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from runner.config import validate
from runner.config.schema import ranking_metric
from runner.errors import UserError, causes, exception_line
from runner.job.context import Choices, JobContext, choices, run_tags
from runner.track import identity, names, runs, store
from runner.train import checks, data, decision, features, pipeline

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from runner.registry.policy import Policy
    from runner.train.crossval import CrossValidation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """Everything decided before anything is written: validated config, data, unfitted pipeline."""

    cfg: DictConfig
    resolved: dict[str, Any]
    split: data.Split
    pipeline: Any   # features -> sampler -> model (imblearn Pipeline)
    estimator: Any  # what is fitted and logged: the pipeline, inside calibration / threshold wrappers if asked
    identity: str
    tags: dict[str, str]
    name: str


def plan(cfg: DictConfig, ctx: JobContext) -> Job:
    """Validate, load the data and build the pipeline: all a job can fail on before it writes."""
    validate.config(cfg)
    checks.dataset_params(cfg.dataset)  # before resolving: a missing dataset.path is named, not an interpolation
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    resolved = {str(k): v for k, v in container.items()}
    preprocess = str(cfg.preprocess.get("kind", "none"))
    split = data.load_split(cfg.dataset, preprocess)
    pipe = pipeline.build(cfg, features.step(split.X_train, cfg.dataset.kind == "csv", preprocess), split.classes)
    sampler = pipe.named_steps["sampler"]
    checks.against_data(cfg, split, None if sampler == "passthrough" else sampler,
                        pipeline.inner_model(pipe.named_steps["model"]))
    chosen = choices(cfg, ctx)
    ident = identity.config_identity(resolved, split.digest)
    git = identity.git_state()
    tags = run_tags(cfg, ctx, chosen, code_version=identity.code_version(), data_digest=split.digest,
                    identity=ident, git_commit=git.get("commit", ""), git_dirty=git.get("dirty", ""))
    return Job(cfg, resolved, split, pipe, decision.wrap(pipe, cfg, split.classes), ident, tags, chosen.run_name)


def run(cfg: DictConfig) -> float:
    """Run one job and return its `optimized_metric` (reused from an identical run when one exists)."""
    from runner.registry.policy import Policy

    start = time.time()
    ctx = JobContext.from_hydra()
    uri = store.resolve_uri(cfg.mlflow.tracking_uri)
    store.configure(cfg.get("runner"))  # runner.lock_wait, runner.stale_after
    store.check_reachable(uri)  # seconds, not minutes of MLflow's retries, for a server that is down
    try:
        job = plan(cfg, ctx)
    except UserError as e:
        if not ctx.multirun:
            raise
        return failed(ctx, record_invalid(cfg, ctx, uri, e, start), e)

    import mlflow  # after validation: a mistake costs no MLflow import

    mlflow.set_tracking_uri(uri)
    client = store.client(uri)  # waits out a locked store (runner.lock_wait)
    experiment_id = store.prepare(uri, cfg.mlflow.experiment_name)  # also closes orphaned runs
    policy = Policy.of(cfg, ctx.multirun)

    previous = None if cfg.rerun else runs.find_finished(client, experiment_id, job.identity)
    if previous is not None:
        return reuse(client, uri, job, previous, ctx, policy)

    run_id: str | None = None
    try:
        with runs.job_run(client, experiment_id, job.name, job.tags, start, store.stale_after()) as active:
            run_id = active.info.run_id
            announce(client, cfg, ctx, run_id)
            value = train_and_log(client, run_id, job, ctx, policy)
        policy.after_job(client, uri, run_id)
    except store.StoreLocked:
        raise  # the store is unusable: the command stops in one line (a sweep too)
    except Exception as e:
        if ctx.multirun and run_id is not None:  # recorded FAILED: the sweep reports it
            return failed(ctx, run_id, e)
        raise
    return value


def announce(client: MlflowClient, cfg: DictConfig, ctx: JobContext, run_id: str, reused: bool = False) -> None:
    """Tell the sweep's parent run which run is job `ctx.num` (and that it was reused)."""
    parent = cfg.mlflow.parent_run_id
    if not parent or ctx.num is None:
        return
    client.set_tag(parent, f"{names.JOB_PREFIX}{ctx.num}", run_id)
    if reused:
        client.set_tag(parent, f"{names.REUSED_PREFIX}{ctx.num}", run_id)


def failed(ctx: JobContext, run_id: str, e: Exception) -> float:
    """A sweep job that failed (its run already FAILED): one log line, and NaN for the sweeper.

    It does not raise: Hydra would print its own error lines with the injected overrides and skip
    `on_multirun_end`. The launching process reads the failure from MLflow (runner.sweep.lifecycle),
    which prints the failure summary and sets the exit status.
    """
    log.error("job %s failed: %s (run %s, traceback in its artifacts: %s)",
              ctx.num, exception_line(e), run_id, names.TRACEBACK)
    return float("nan")


def write_files(folder: Path, job: Job, ctx: JobContext, ev: Any, cv: CrossValidation | None) -> None:
    """The job's files before upload: plots, report, held-out predictions, reference profile, CV folds,
    feature importance (explain=true), resolved config, overrides."""
    from runner.track.secrets import redacted_config
    from runner.train import evaluate, explain, plots, profile

    split = job.split
    plots.write(ev, split.y_test, folder / names.PLOTS, job.name)
    predictions = folder / names.HOLDOUT_PREDICTIONS
    predictions.parent.mkdir(parents=True, exist_ok=True)
    evaluate.holdout_frame(ev, split.y_test).to_parquet(predictions, index=False)
    if cv is not None:
        (folder / names.CV_FOLDS).parent.mkdir(parents=True, exist_ok=True)
        cv.table().to_csv(folder / names.CV_FOLDS, index=False)
    (folder / names.CLASSIFICATION_REPORT).write_text(ev.report)
    profile.write(folder, split.X_train, split.y_train, ev)  # reference for runner.serve.monitor
    if job.cfg.get("explain", False):
        explain.permutation_table(job.estimator, split.X_test, split.y_test, str(job.cfg.optimized_metric)).to_csv(
            folder / names.FEATURE_IMPORTANCE, index=False)
    (folder / names.RESOLVED_CONFIG).write_text(OmegaConf.to_yaml(OmegaConf.create(redacted_config(job.resolved))))
    (folder / names.OVERRIDES_FILE).write_text(OmegaConf.to_yaml(OmegaConf.create(list(ctx.overrides))))


def train_and_log(client: MlflowClient, run_id: str, job: Job, ctx: JobContext, policy: Policy) -> float:
    """Fit, evaluate, write the files, log everything and register if the policy says so."""
    from runner.track import inputs, models
    from runner.track.params import params_of
    from runner.train import evaluate, weights

    split, cfg = job.split, job.cfg
    cv = cross_validate(job) if cfg.eval.kind == "cv" else None
    t = time.perf_counter()
    job.estimator.fit(split.X_train, split.y_train)
    fit_seconds = time.perf_counter() - t
    decision.check_constraint(job.estimator, cfg)
    ev = evaluate.evaluate(job.estimator, split.X_test, split.y_test, bootstrap=cfg.eval.bootstrap,
                           confidence=cfg.eval.confidence, seed=cfg.seed)
    metrics = {**ev.metrics, **ev.interval_metrics(), "fit_seconds": fit_seconds, **weights.used(job.estimator)}
    threshold = decision.threshold_of(job.estimator)
    if threshold is not None:
        metrics["decision_threshold"] = threshold
    if split.dropped:
        metrics["dropped_rows"] = split.dropped  # rows with an empty label, left out before the split
    if cv is not None:
        metrics.update(cv.summary(cfg.eval.confidence))

    with tempfile.TemporaryDirectory(prefix="runner-") as tmp:
        write_files(Path(tmp), job, ctx, ev, cv)
        with artifact_errors(client, run_id):
            client.log_artifacts(run_id, tmp)

    runs.log_job(client, run_id, params_of(job.resolved), {}, {})  # before log_model: the model keeps them
    train = split.X_train.assign(**{data.TARGET: split.y_train.to_numpy()})
    test = split.X_test.assign(**{data.TARGET: split.y_test.to_numpy()})
    uri = client.tracking_uri
    # Fluent calls (MLflow's own clients): each waits out a locked store as a whole. log_model that met
    # the lock half-way leaves a LoggedModel that never finished (the run points at the one that did).
    store.waiting_for_lock(lambda: inputs.log_datasets(train, test, data.TARGET, job.tags[names.DATASET]), uri)
    imputes = features.imputes(str(cfg.preprocess.get("kind", "none")))
    with artifact_errors(client, run_id):
        model_info = store.waiting_for_lock(lambda: models.log_model(job.estimator, split.X_train, ev.classes, imputes), uri)
    # After log_model, with its id: the run's metrics and the LoggedModel's in one write.
    series = {f"cv_{k}": list(v) for k, v in cv.per_fold.items()} if cv is not None else None
    runs.log_job(client, run_id, {}, metrics, {}, model_id=model_info.model_id, series=series)
    client.set_tag(run_id, names.MODEL_URI, model_info.model_uri)

    policy.register_job(client, run_id, model_info.model_uri, job.tags, metrics)
    ranked_by = ranking_metric(cfg.optimized_metric, cfg.eval.kind)
    value = metrics.get(ranked_by, float("nan"))
    log.info("%s: %s=%.4f (fit %.2fs)", job.name, ranked_by, value, fit_seconds)
    return float(value)


class ArtifactWriteFailed(UserError):
    """The run's artifacts could not be written (a full disk, a folder the process may not write): one line."""


@contextlib.contextmanager
def artifact_errors(client: MlflowClient, run_id: str) -> Iterator[None]:
    """An OSError writing artifacts as one line naming the path and the OS error (the job's run becomes FAILED)."""
    try:
        yield
    except Exception as e:  # MLflow wraps some OSErrors (e.g. the model's folder) in its own exception
        cause = next((x for x in causes(e) if isinstance(x, OSError)), None)
        if cause is None:
            raise
        raise ArtifactWriteFailed(f"cannot write the artifacts of run {run_id} to "
                                  f"{_artifact_path(client, run_id, cause)}: {cause.strerror or exception_line(cause)}") from e


def _artifact_path(client: MlflowClient, run_id: str, e: OSError) -> str:
    """The path the OS refused, else the run's artifact location."""
    if e.filename:
        return str(e.filename)
    try:
        return str(client.get_run(run_id).info.artifact_uri)
    except Exception:  # the path is only for the message
        return "the run's artifact location"


def cross_validate(job: Job) -> CrossValidation:
    """eval=cv: the pipeline's folds on the training split, as many at once as the thread budget allows."""
    from runner.config.resources import threads_per_job
    from runner.train import crossval

    ev, split = job.cfg.eval, job.split
    n_jobs = crossval.parallel_folds(crossval.estimator_threads(job.pipeline), threads_per_job())
    return crossval.cross_validate(job.estimator, split.X_train, split.y_train, ev.folds, ev.repeats, job.cfg.seed, n_jobs)


def reuse(client: MlflowClient, uri: str, job: Job, previous: Run, ctx: JobContext, policy: Policy) -> float:
    """An identical FINISHED run exists: record it for the sweep, let the policy adopt it, return its metric."""
    run_id = previous.info.run_id
    log.info("%s: identical to FINISHED run %s (config, code and data); reusing it (rerun=true trains again)",
             job.name, run_id)
    announce(client, job.cfg, ctx, run_id, reused=True)
    if job.cfg.get("explain", False):
        explain_reused(client, previous, str(job.cfg.optimized_metric))
    policy.adopt(client, uri, previous)
    ranked_by = ranking_metric(job.cfg.optimized_metric, job.cfg.eval.kind)
    return float(previous.data.metrics.get(ranked_by, float("nan")))


def explain_reused(client: MlflowClient, previous: Run, metric: str) -> None:
    """explain=true on a reused run: its feature_importance.csv, computed from its logged model and logged
    now when it has none (a warning line when that cannot be done: the reuse itself stands)."""
    from runner.job import explain

    try:
        explain.feature_importance(client, previous, metric)
    except explain.NotAvailable as e:
        log.warning("run %s: no feature importance for explain=true: %s", previous.info.run_id, e)


def record_invalid(cfg: DictConfig, ctx: JobContext, uri: str, e: Exception, start: float) -> str:
    """Inside a sweep, a job that fails validation still leaves a FAILED run with its reason."""
    client = store.client(uri)
    experiment_id = store.prepare(uri, cfg.mlflow.experiment_name)
    chosen: Choices = choices(cfg, ctx)
    run_id = runs.record_failed(client, experiment_id, chosen.run_name, run_tags(cfg, ctx, chosen), start, e)
    announce(client, cfg, ctx, run_id)
    return run_id
