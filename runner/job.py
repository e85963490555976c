"""One job, start to end: config -> data -> pipeline -> fit -> evaluate -> track -> register.

`run(cfg)` is what run.py's Hydra task calls; it returns `optimized_metric` so sweepers can
optimise it. Nothing is written to the store until the config and data have passed validation.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from runner import data, features, identity, labels, pipeline, store, tracking, validate
from runner.errors import UserError

log = logging.getLogger(__name__)

IDENTITY_TAG = "runner.identity"
PARENT_TAG = "mlflow.parentRunId"


@dataclass
class Job:
    """Everything decided before anything is written: validated config, data, unfitted pipeline."""

    cfg: DictConfig
    resolved: dict
    split: data.Split
    pipeline: Any
    identity: str
    tags: dict[str, str]
    name: str


def hydra_info(cfg: DictConfig) -> dict[str, Any]:
    """Choices, job number, output folder and task overrides, when Hydra runs the job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {"choices": {}, "num": None, "output_dir": None, "overrides": [], "multirun": False}
    hc = HydraConfig.get()
    overrides = [tracking.redact_text(o) for o in hc.overrides.task
                 if not o.lstrip("+~").startswith("mlflow.parent_run_id")
                 and not o.lstrip("+~").startswith("mlflow.tracking_uri")]
    from hydra.types import RunMode

    return {
        "choices": dict(hc.runtime.choices),
        "num": hc.job.get("num"),
        "output_dir": hc.runtime.output_dir,
        "overrides": overrides,
        "multirun": hc.mode == RunMode.MULTIRUN,
    }


def choices(cfg: DictConfig, info: dict[str, Any]) -> dict[str, str]:
    """The dataset, model and sampler options (from Hydra, else read off the config)."""
    c = info["choices"]
    target = lambda node: (str(node.get("_target_") or "none")).rsplit(".", 1)[-1]
    return {
        "dataset": c.get("dataset") or str(cfg.dataset.get("name")),
        "model": c.get("model") or target(cfg.model),
        "sampler": c.get("sampler") or target(cfg.sampler),
    }


def plan(cfg: DictConfig, info: dict[str, Any]) -> Job:
    """Validate, load the data and build the pipeline: all a job can fail on before it writes."""
    validate.config(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    split = data.load_split(cfg.dataset)
    pipe = pipeline.build(cfg, features.step(split.X_train, by_name=cfg.dataset.kind == "csv"), split.classes)
    model = pipe.named_steps["model"]
    validate.against_data(cfg, split, pipe.named_steps["sampler"] if pipe.named_steps["sampler"] != "passthrough" else None, model.estimator if isinstance(model, labels.LabelEncoded) else model)
    chosen = choices(cfg, info)
    git = identity.git_state()
    ident = identity.config_identity(resolved, split.digest)
    tags = {
        "runner.dataset": chosen["dataset"],
        "runner.model": chosen["model"],
        "runner.sampler": chosen["sampler"],
        "runner.overrides": " ".join(info["overrides"]),
        "runner.code_version": identity.code_version(),
        "runner.data_digest": split.digest,
        IDENTITY_TAG: ident,
    }
    if info["num"] is not None:
        tags["runner.job_num"] = str(info["num"])
    if info["output_dir"]:
        tags["runner.output_dir"] = str(info["output_dir"])
    if git:
        tags.update({"runner.git_commit": git["commit"], "runner.git_dirty": git["dirty"],
                     "mlflow.source.git.commit": git["commit"]})
    if cfg.mlflow.parent_run_id:
        tags[PARENT_TAG] = cfg.mlflow.parent_run_id
    name = f"{chosen['model']}+{chosen['sampler']}"
    if chosen["dataset"] != "synthetic-imbalanced":
        name = f"{name}@{chosen['dataset']}"
    return Job(cfg, resolved, split, pipe, ident, tags, name)


def find_finished(client: Any, experiment_id: str, ident: str) -> Optional[Any]:
    """The newest FINISHED run of this experiment with the same identity, if any."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{IDENTITY_TAG}` = '{ident}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def run(cfg: DictConfig) -> float:
    """Run one job and return its `optimized_metric` (reused from an identical run when one exists)."""
    from runner import promote

    start = time.time()
    info = hydra_info(cfg)
    uri = store.resolve_uri(cfg.mlflow.tracking_uri)
    store.check_reachable(uri)  # seconds, not minutes of MLflow's retries, for a server that is down
    try:
        job = plan(cfg, info)
    except UserError as e:
        if not info["multirun"]:
            raise
        run_id = record_invalid(cfg, info, uri, e, start)
        return failed(info, run_id, e)

    import mlflow  # after validation: a mistake costs no MLflow import

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    experiment_id = store.prepare(uri, cfg.mlflow.experiment_name)
    parent = cfg.mlflow.parent_run_id

    previous = None if cfg.rerun else find_finished(client, experiment_id, job.identity)
    if previous is not None:
        return reuse(client, job, previous, parent, info)

    run_id = None
    try:
        with tracking.job_run(client, experiment_id, job.name, job.tags, start) as active:
            run_id = active.info.run_id
            if parent and info["num"] is not None:
                client.set_tag(parent, f"runner.job.{info['num']}", run_id)
            value = train_and_log(client, run_id, job, info)
        if not info["multirun"]:  # a sweep decides in its launching process (runner.sweep.close)
            promote.after_run(client, uri, run_id, cfg.optimized_metric, cfg.registry.promote)
    except Exception as e:
        if info["multirun"] and run_id is not None:  # recorded FAILED: the sweep reports it
            return failed(info, run_id, e)
        raise
    return value


def failed(info: dict[str, Any], run_id: str, e: Exception) -> float:
    """A sweep job that failed (its run already FAILED): one log line, and NaN for the sweeper.

    It does not raise: Hydra would print its own error lines with the injected overrides and skip
    `on_multirun_end`. The launching process reads the failure from MLflow (runner.sweep.close),
    which prints the failure summary and sets the exit status.
    """
    log.error("job %s failed: %s (run %s, traceback in its artifacts: failure/traceback.txt)",
              info["num"], tracking.one_line(e), run_id)
    return float("nan")


def train_and_log(client: Any, run_id: str, job: Job, info: dict[str, Any]) -> float:
    """Fit, evaluate, write the files, log everything and register if asked."""
    import mlflow

    from runner import evaluate, plots, profile, registry

    split, cfg = job.split, job.cfg
    t = time.perf_counter()
    job.pipeline.fit(split.X_train, split.y_train)
    fit_seconds = time.perf_counter() - t
    ev = evaluate.evaluate(job.pipeline, split.X_test, split.y_test)
    metrics = {**ev.metrics, "fit_seconds": fit_seconds}

    with tracking.scratch() as tmp:
        folder = Path(tmp)
        plots.write(ev, split.y_test, folder / "plots", job.name)
        (folder / "classification_report.txt").write_text(ev.report)
        profile.write(folder, split.X_train, split.y_train, ev)  # reference for runner.monitor
        (folder / "resolved_config.yaml").write_text(
            OmegaConf.to_yaml(OmegaConf.create(tracking.redacted_config(job.resolved)))
        )
        (folder / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(info["overrides"] or [])))
        tracking.log_artifacts(client, run_id, folder)

    tracking.log_job(client, run_id, tracking.params_of(job.resolved), {}, {})  # before log_model: the model keeps them
    train = split.X_train.assign(**{data.TARGET: split.y_train.to_numpy()})
    test = split.X_test.assign(**{data.TARGET: split.y_test.to_numpy()})
    tracking.log_datasets(train, test, data.TARGET, job.tags["runner.dataset"])
    model_info = tracking.log_model(job.pipeline, split.X_train, ev.classes)
    # After log_model, with its id: the run's metrics and the LoggedModel's in one write.
    tracking.log_job(client, run_id, {}, metrics, {}, model_id=model_info.model_id)
    client.set_tag(run_id, "runner.model_uri", model_info.model_uri)

    if registers_itself(cfg, info):
        registry.register(client, model_info.model_uri, cfg.registry.name, run_id, version_tags(job, run_id, metrics))
    value = metrics.get(cfg.optimized_metric, float("nan"))
    log.info("%s: %s=%.4f (fit %.2fs)", job.name, cfg.optimized_metric, value, fit_seconds)
    return float(value)


def registers_itself(cfg: DictConfig, info: dict[str, Any]) -> bool:
    """register=true always; register=best only outside a sweep (a single run is its own best job)."""
    return cfg.registry.register is True or (cfg.registry.register == "best" and not info["multirun"])


def version_tags(job: Job, run_id: str, metrics: dict[str, float]) -> dict[str, str]:
    """What a registered version says about itself."""
    from runner import registry

    tags = {v: job.tags[k] for k, v in registry.RUN_TAGS.items() if k in job.tags}
    tags.update({"run_id": run_id, "identity": job.identity, "data_digest": job.split.digest,
                 "git_commit": job.tags.get("runner.git_commit", "")})
    tags.update({f"metric.{k}": repr(float(v)) for k, v in metrics.items()})
    return tags


def reuse(client: Any, job: Job, previous: Any, parent: Optional[str], info: dict[str, Any]) -> float:
    """An identical FINISHED run exists: record it for the sweep and return its metric."""
    from runner import promote, registry

    run_id = previous.info.run_id
    log.info("%s: identical to FINISHED run %s (config, code and data); reusing it (rerun=true trains again)",
             job.name, run_id)
    if parent and info["num"] is not None:
        client.set_tag(parent, f"runner.job.{info['num']}", run_id)
        client.set_tag(parent, f"runner.reused.{info['num']}", run_id)
    cfg = job.cfg
    if registers_itself(cfg, info) and registry.VERSION_TAG not in previous.data.tags:
        model_uri = previous.data.tags.get("runner.model_uri")
        if model_uri:
            metrics = dict(previous.data.metrics)
            registry.register(client, model_uri, cfg.registry.name, run_id, version_tags(job, run_id, metrics))
            if not info["multirun"]:
                uri = store.resolve_uri(cfg.mlflow.tracking_uri)
                promote.after_run(client, uri, run_id, cfg.optimized_metric, cfg.registry.promote)
    return float(previous.data.metrics.get(cfg.optimized_metric, float("nan")))


def record_invalid(cfg: DictConfig, info: dict[str, Any], uri: str, e: Exception, start: float) -> str:
    """Inside a sweep, a job that fails validation still leaves a FAILED run with its reason."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment_id = store.prepare(uri, cfg.mlflow.experiment_name)
    chosen = choices(cfg, info)
    tags = {
        "runner.dataset": chosen["dataset"], "runner.model": chosen["model"], "runner.sampler": chosen["sampler"],
        "runner.overrides": " ".join(info["overrides"]),
    }
    if info["num"] is not None:
        tags["runner.job_num"] = str(info["num"])
    parent = cfg.mlflow.parent_run_id
    if parent:
        tags[PARENT_TAG] = parent
    run = client.create_run(experiment_id, start_time=int(start * 1000), tags=tags,
                            run_name=f"{chosen['model']}+{chosen['sampler']}")
    tracking.close_failed(client, run.info.run_id, e)
    client.set_terminated(run.info.run_id, "FAILED")
    if parent and info["num"] is not None:
        client.set_tag(parent, f"runner.job.{info['num']}", run.info.run_id)
    return run.info.run_id
