"""A multirun's life in the launching process: parent run before the jobs, leaderboard after.

Hydra calls `on_multirun_end` only when no job raised, so `close()` is also called by run.py
after Hydra returns or exits; it runs once. The parent run's id and the tracking URI reach the
jobs as overrides in their config (an environment variable would never reach a Ray worker).
"""
from __future__ import annotations

import logging
import math
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, open_dict, read_write

from runner import store
from runner.errors import Terminated

log = logging.getLogger(__name__)

SWEEP_TAG = "runner.sweep"


@dataclass
class Sweep:
    """State of the sweep this process launched."""

    uri: str
    experiment_id: str
    parent_run_id: str
    folder: Path
    metric: str
    register: Any
    registry_name: str
    promote: bool
    overrides: list[str] = field(default_factory=list)
    closed: bool = False
    exit_code: int = 0


_current: Optional[Sweep] = None


def current() -> Optional[Sweep]:
    return _current


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def start(config: DictConfig) -> Sweep:
    """Prepare the store and experiment, open the parent run, hand its id to every job."""
    import mlflow

    global _current
    uri = store.resolve_uri(config.mlflow.tracking_uri)
    experiment_id = store.prepare(uri, config.mlflow.experiment_name)
    folder = Path(config.hydra.sweep.dir).resolve()
    overrides = [str(o) for o in config.hydra.overrides.task]
    client = mlflow.MlflowClient(uri)
    parent = client.create_run(
        experiment_id,
        run_name=f"sweep {folder.parent.name}/{folder.name}",
        tags={SWEEP_TAG: "true", "runner.sweep_dir": str(folder), "runner.overrides": " ".join(overrides),
              "runner.optimized_metric": str(config.optimized_metric)},
    )
    parent_id = parent.info.run_id
    client.log_param(parent_id, "overrides", " ".join(overrides)[:6000] or "(none)")
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.overrides.task.append(f"mlflow.parent_run_id={parent_id}")
        config.hydra.overrides.task.append(f"mlflow.tracking_uri={uri}")
    _current = Sweep(uri, experiment_id, parent_id, folder, str(config.optimized_metric),
                     config.registry.register, str(config.registry.name), bool(config.registry.promote), overrides)
    signal.signal(signal.SIGTERM, _on_sigterm)
    log.info("sweep parent run %s in %s", parent_id, uri)
    return _current


def close(interrupted: bool = False) -> int:
    """Leaderboard, files, parent status and a one-line summary; returns the exit code (once)."""
    from runner import leaderboard

    sweep = _current
    if sweep is None or sweep.closed:
        return sweep.exit_code if sweep else 0
    sweep.closed = True
    import mlflow

    client = mlflow.MlflowClient(sweep.uri)
    if interrupted:
        _kill_running_children(client, sweep)
    parent = client.get_run(sweep.parent_run_id)
    rows = leaderboard.sort(leaderboard.sweep_rows(client, parent), sweep.metric)
    title = f"sweep {sweep.folder.parent.name}/{sweep.folder.name}: {len(rows)} jobs by {sweep.metric}"
    leaderboard.print_table(rows, sweep.metric, title)
    files = leaderboard.write_all(rows, sweep.metric, sweep.folder, title)
    for path in files:
        client.log_artifact(sweep.parent_run_id, str(path))
    _log_search_result(client, sweep)

    if sweep.register == "best" and not interrupted:
        _register_best(client, sweep, rows)

    failed = [r for r in rows if r.status in ("FAILED", "KILLED")]
    status = "KILLED" if interrupted else ("FAILED" if failed else "FINISHED")
    client.set_terminated(sweep.parent_run_id, status)
    print(f"files: {sweep.folder}/summary.csv, summary.md, comparison.png; parent run {sweep.parent_run_id}")
    if interrupted:
        print(f"sweep interrupted: {len(rows)} jobs recorded; run the same command again to resume", file=sys.stderr)
        sweep.exit_code = 130
    elif failed:
        reasons = "; ".join(f"job {r.job}: {r.reason or r.status}" for r in failed)
        print(f"{len(failed)} of {len(rows)} jobs failed: {reasons}", file=sys.stderr)
        sweep.exit_code = 1
    return sweep.exit_code


def _log_search_result(client: Any, sweep: Sweep) -> None:
    """A sweeper's result file (Optuna's optimization_results.yaml: best params and value) on the parent."""
    from omegaconf import OmegaConf

    path = sweep.folder / "optimization_results.yaml"
    if not path.is_file():
        return
    client.log_artifact(sweep.parent_run_id, str(path))
    best = OmegaConf.load(path).get("best_value")
    if isinstance(best, (int, float)):
        client.log_metric(sweep.parent_run_id, f"best_{sweep.metric}", float(best))
    print(f"search result: {path}")


def _kill_running_children(client: Any, sweep: Sweep) -> None:
    """Workers of a parallel launcher are not told of the interruption: close their runs here."""
    running = client.search_runs(
        [sweep.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{sweep.parent_run_id}' and attributes.status = 'RUNNING'",
    )
    for run in running:
        client.set_tag(run.info.run_id, "runner.failure", "interrupted")
        client.set_terminated(run.info.run_id, "KILLED")


def _register_best(client: Any, sweep: Sweep, rows: list) -> None:
    """registry.register=best: only the sweep's best finished job becomes a version."""
    from runner import registry

    best = next((r for r in rows if r.status == "FINISHED" and not math.isnan(r.metrics.get(sweep.metric, math.nan))), None)
    if best is None:
        log.warning("registry.register=best: no finished job to register")
        return
    run = client.get_run(best.run_id)
    model_uri = run.data.tags.get("runner.model_uri")
    if model_uri and registry.VERSION_TAG not in run.data.tags:
        tags = {"run_id": best.run_id, "identity": run.data.tags.get("runner.identity", ""),
                "model": best.model, "sampler": best.sampler, "dataset": best.dataset,
                "data_digest": run.data.tags.get("runner.data_digest", ""),
                "git_commit": run.data.tags.get("runner.git_commit", "")}
        tags.update({f"metric.{k}": f"{v:.6g}" for k, v in run.data.metrics.items()})
        version = registry.register(client, model_uri, sweep.registry_name, best.run_id, tags)
        print(f"registered the best job #{best.job} ({best.label}) as {sweep.registry_name} version {version}")
