"""Train any recorded run again, from its logged resolved config, as a new run.

    python -m runner.rerun <run_id> [--set key=value ...] [--register]

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

import argparse
import logging
import sys
import tempfile
import time
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from runner.errors import UserError

log = logging.getLogger(__name__)

RERUN_TAG = "runner.rerun_of"
EXIT_ERROR = 2


def load_config(client: Any, run_id: str, overrides: Sequence[str] = ()) -> tuple[Any, DictConfig]:
    """The run and its logged resolved config, checked (schema, allow-list, no redacted values)."""
    from mlflow.exceptions import MlflowException

    from runner import allowlist, config, tracking

    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise UserError(f"run {run_id}: not found in {client.tracking_uri}") from None
    with tempfile.TemporaryDirectory(prefix="runner-rerun-") as tmp:
        try:
            path = client.download_artifacts(run_id, "resolved_config.yaml", tmp)
        except (MlflowException, OSError):
            raise UserError(f"run {run_id}: has no resolved_config.yaml artifact (not a runner job run)") from None
        logged = OmegaConf.load(path)
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(config.Config), logged, OmegaConf.from_dotlist(list(overrides)))
    except Exception as e:  # a record that no longer fits the schema, or a bad --set
        raise UserError(f"run {run_id}: its config does not fit today's schema: {tracking.one_line(e)}") from None
    allowlist.check(cfg)  # before anything is instantiated
    hidden = [k for k, v in tracking.flatten(OmegaConf.to_container(cfg)).items()
              if isinstance(v, str) and tracking.REDACTED in v]
    if hidden:
        raise UserError(f"run {run_id}: {', '.join(hidden)} was redacted when logged and cannot be recovered; "
                        f"supply it with --set {hidden[0]}=...")
    cfg.rerun = True
    cfg.mlflow.parent_run_id = None
    cfg.mlflow.tracking_uri = None
    return run, cfg


def differences(run: Any, job: Any) -> list[str]:
    """What changed since the original: code version and dataset digest."""
    from runner import identity

    tags = run.data.tags
    out = []
    was, now = tags.get("runner.code_version"), identity.code_version()
    if was != now:
        out.append(f"code version differs: original {was}, now {now} (runner/ or conf/ changed)")
    was, now = tags.get("runner.data_digest"), job.split.digest
    if was != now:
        out.append(f"dataset digest differs: original {was}, now {now} (the data changed)")
    return out


def rerun(run_id: str, overrides: Sequence[str] = (), register: bool = False) -> str:
    """Train the run's config again as a new run; returns the new run's id."""
    import mlflow

    from runner import job, store, tracking

    start = time.time()
    uri = store.resolve_uri(None)
    client = mlflow.MlflowClient(uri)
    run, cfg = load_config(client, run_id, overrides)
    if not register:
        cfg.registry.register = False
    tags = run.data.tags
    info = {
        "choices": {k: tags[f"runner.{k}"] for k in ("dataset", "model", "sampler") if f"runner.{k}" in tags},
        "num": None, "output_dir": None, "multirun": False,
        "overrides": tags.get("runner.overrides", "").split() + list(overrides),
    }
    planned = job.plan(cfg, info)
    for line in differences(run, planned):
        print(f"note: {line}; metrics may differ from the original's", file=sys.stderr)
    planned.tags[RERUN_TAG] = run_id
    mlflow.set_tracking_uri(uri)
    experiment_id = store.prepare(uri, cfg.mlflow.experiment_name)
    with tracking.job_run(client, experiment_id, planned.name, planned.tags, start) as active:
        new_id = active.info.run_id
        job.train_and_log(client, new_id, planned, info)
    return new_id


def compare(client: Any, original: str, new: str) -> list[tuple[str, float, float]]:
    """(metric, original, new) for every metric of the original but timings."""
    a, b = client.get_run(original).data.metrics, client.get_run(new).data.metrics
    return [(k, a[k], b.get(k, float("nan"))) for k in sorted(a) if not k.endswith("_seconds")]


def main(argv: Optional[Sequence[str]] = None) -> int:
    import os

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    p = argparse.ArgumentParser(prog="python -m runner.rerun",
                                description="Train a recorded run again from its logged resolved config, as a new run.",
                                epilog="exit codes: 0 trained (metrics printed beside the original's), 2 error")
    p.add_argument("run_id")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change or supply one config value (e.g. a redacted secret)")
    p.add_argument("--register", action="store_true", help="register the new model as registry.name says")
    args = p.parse_args(argv)
    try:
        import mlflow

        from runner import store

        new = rerun(args.run_id, args.set, args.register)
        client = mlflow.MlflowClient(store.resolve_uri(None))
        worst = 0.0
        for name, was, now in compare(client, args.run_id, new):
            worst = max(worst, abs(was - now))
            print(f"{name:20s} original {was:.10g}  rerun {now:.10g}")
        print(f"new run {new} ({RERUN_TAG}={args.run_id}); largest metric difference {worst:.3g}")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    from runner import shutdown

    shutdown.run(main)
