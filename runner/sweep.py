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

from runner import store, tracking, warmup
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


def _quoted(value: str) -> str:
    """A value as a Hydra override reads it back (URIs hold ':', '=', ',' and spaces)."""
    import re

    # In Hydra's quoted strings only backslashes that precede a quote need escaping.
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    return "'" + re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped) + "'"


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def start(config: DictConfig) -> Sweep:
    """Prepare the store and experiment, open the parent run, hand its id to every job."""
    global _current
    warm = warmup.start(config)  # a parallel launcher's workers import the ML stack meanwhile
    try:
        import mlflow

        uri = store.resolve_uri(config.mlflow.tracking_uri)
        experiment_id = store.prepare(uri, config.mlflow.experiment_name)
        folder = Path(config.hydra.sweep.dir).resolve()
        overrides = [tracking.redact_text(str(o)) for o in config.hydra.overrides.task]
        client = mlflow.MlflowClient(uri)
        parent = client.create_run(
            experiment_id,
            run_name=f"sweep {folder.parent.name}/{folder.name}",
            tags={SWEEP_TAG: "true", "runner.sweep_dir": str(folder), "runner.overrides": " ".join(overrides),
                  "runner.optimized_metric": str(config.optimized_metric)},
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
        config.hydra.overrides.hydra.append(f"mlflow.tracking_uri={_quoted(uri)}")
    _current = Sweep(uri, experiment_id, parent_id, folder, str(config.optimized_metric),
                     config.registry.register, str(config.registry.name), bool(config.registry.promote), overrides)
    signal.signal(signal.SIGTERM, _on_sigterm)
    log.info("sweep parent run %s in %s", parent_id, uri)
    return _current


def close(interrupted: bool = False, signum: int = signal.SIGINT) -> int:
    """Leaderboard, files, parent status and a one-line summary; returns the exit code (once).

    Interrupted by signal `signum`, the code is the shell's 128 + signum (130 Ctrl-C, 143 SIGTERM).
    """
    from runner import leaderboard

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
        leaderboard.print_table(rows, sweep.metric, title)
        files = leaderboard.write_all(rows, sweep.metric, sweep.folder, title)
        for path in files:
            client.log_artifact(sweep.parent_run_id, str(path))
        _log_search_result(client, sweep)
        if sweep.register == "best" and not interrupted:
            _register_best(client, sweep, rows)
        if sweep.register in (True, "best") and not interrupted:
            _promote(client, sweep, rows)
        summary = leaderboard.failure_summary(rows)
        if not interrupted and not summary:
            status = "FINISHED"
    finally:  # never leave the parent RUNNING, even if the leaderboard itself failed
        client.set_terminated(sweep.parent_run_id, status)
    print(f"files: {sweep.folder}/summary.csv, summary.md, comparison.png; parent run {sweep.parent_run_id}")
    sys.stdout.flush()
    if interrupted:
        print(f"sweep interrupted: {len(rows)} jobs recorded; run the same command again to resume "
              "(finished jobs are reused)", file=sys.stderr)
        sweep.exit_code = 128 + int(signum)
    elif summary:
        print(summary, file=sys.stderr)
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
    """registry.register=best: only the sweep's best finished job becomes a version (failed jobs skipped)."""
    from runner import registry

    best = next((r for r in rows if r.status == "FINISHED" and not math.isnan(r.metrics.get(sweep.metric, math.nan))), None)
    if best is None:
        log.warning("registry.register=best: no finished job to register")
        return
    run = client.get_run(best.run_id)
    model_uri = run.data.tags.get("runner.model_uri")
    if model_uri and registry.VERSION_TAG not in run.data.tags:
        version = registry.register(client, model_uri, sweep.registry_name, best.run_id, registry.tags_of_run(run))
        print(f"registered the best job #{best.job} ({best.label}) as {sweep.registry_name} version {version}")


def _promote(client: Any, sweep: Sweep, rows: list) -> None:
    """The promotion gate for this sweep's new versions, in version order, decided here (one process)."""
    from runner import promote, registry

    found = set()
    for row in rows:
        if row.status == "FINISHED":
            name_version = registry.registered(client.get_run(row.run_id))
            if name_version is not None:
                found.add(name_version)
    for name, version in sorted(found, key=lambda nv: (nv[0], int(nv[1]))):
        promote.gate(client, sweep.uri, name, version, sweep.metric, sweep.promote)
