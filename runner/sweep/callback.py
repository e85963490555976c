"""Hydra callback: sweep-level work in the launching process (runner.sweep.lifecycle), and progress in each job.

* `on_multirun_start` (launching process): opens the parent run, then writes `.progress.json` in the sweep
  folder: how many jobs the sweeper will launch (when it can be known up front) and when the sweep started.
* `on_job_start` (the job's process): one line saying where the sweep is: `[12/40] job 11 started, 3m12s
  elapsed, ~7m left (from 11 finished jobs)`.
* `on_job_end` (the job's process): appends the job's duration to `.progress.jobs`, rewrites `summary.csv` and
  `summary.md` in the sweep folder from MLflow (no comparison tests, no chart: cheap), so a sweep can be
  reviewed half-way, and records the best job so far on the parent run (`best_<metric>`, `runner.best_run_id`).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from runner.sweep.leaderboard import Row

log = logging.getLogger(__name__)

PROGRESS = ".progress.json"      # {"total": N or null, "started": epoch seconds}
FINISHED = ".progress.jobs"      # one JSON line per ended job: {"num": n, "seconds": s}
BEST_RUN_ID = "runner.best_run_id"


class SweepCallback(Callback):
    """Opens the sweep's parent run before jobs fan out; closes it after the last job; progress in between."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.errors import UserError
        from runner.sweep import lifecycle as sweep

        try:
            started = sweep.start(config)
        except UserError as e:
            # Hydra turns a callback's Exception into a warning and launches the jobs anyway:
            # SystemExit (not an Exception) stops the sweep here, with the command line's one-line message.
            raise SystemExit(f"error: {e}") from None
        try:
            write_progress(started.folder, planned_jobs(config))
        except Exception as e:  # noqa: BLE001 - progress lines are a nicety; the sweep runs without them
            log.debug("no progress file: %s", e)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.sweep import lifecycle

        lifecycle.close()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._job_started = time.time()
        try:
            line = start_line(sweep_folder(config), _job_num(config))
        except Exception:  # noqa: BLE001 - never fail a job over its progress line
            return
        if line:
            log.info(line)

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        folder = sweep_folder(config)
        num = _job_num(config)
        if folder is None or num is None or not folder.is_dir():  # e.g. a worker on another machine
            return
        try:
            record_end(folder, num, time.time() - getattr(self, "_job_started", time.time()))
            rewrite_summary(config, folder)
        except Exception as e:  # noqa: BLE001 - the final leaderboard is written at the end whatever happens here
            log.warning("summary not rewritten after job %s: %s", num, e)


# ---------------------------------------------------------------------------------------------------- progress


def planned_jobs(config: DictConfig) -> int | None:
    """How many jobs the sweeper will launch: the product of the sweep lists for Hydra's basic sweeper,
    `n_trials` for a search (Optuna); None when it cannot be known up front."""
    sweeper = config.hydra.sweeper
    target = str(sweeper.get("_target_", ""))
    if target.endswith("BasicSweeper"):
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parser = OverridesParser.create()
        overrides = parser.parse_overrides([str(o) for o in config.hydra.overrides.task])
        extra = sweeper.get("params") or {}
        overrides += parser.parse_overrides([f"{k}={v}" for k, v in extra.items()])
        batches = BasicSweeper.split_arguments(overrides, None)
        return sum(len(b) for b in batches)
    trials = sweeper.get("n_trials")
    return int(trials) if isinstance(trials, int) else None


def write_progress(folder: Path, total: int | None, started: float | None = None) -> Path:
    """The sweep's `.progress.json` (written by the launching process before any job starts)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PROGRESS
    path.write_text(json.dumps({"total": total, "started": started if started is not None else time.time()}))
    (folder / FINISHED).unlink(missing_ok=True)
    return path


def sweep_folder(config: DictConfig) -> Path | None:
    """The sweep folder a job belongs to (None outside a multirun)."""
    try:
        return Path(str(config.hydra.sweep.dir)).resolve()
    except Exception:  # noqa: BLE001 - not a multirun, or an unresolvable folder
        return None


def _job_num(config: DictConfig) -> int | None:
    try:
        return int(config.hydra.job.num)
    except Exception:  # noqa: BLE001 - "???" outside a multirun
        return None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def finished_jobs(folder: Path) -> list[dict[str, Any]]:
    path = folder / FINISHED
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line being written by another worker
    return out


def start_line(folder: Path | None, num: int | None, now: float | None = None) -> str:
    """`[12/40] job 11 started · 3m12s elapsed · ~7m05s left (from 11 finished jobs)`; '' without a progress file.

    The estimate is the sweep's pace so far (elapsed / finished) times the jobs not finished yet, so parallel
    workers are accounted for.
    """
    if folder is None or num is None or not (folder / PROGRESS).is_file():
        return ""
    state = json.loads((folder / PROGRESS).read_text())
    now = time.time() if now is None else now
    total = state.get("total")
    elapsed = max(0.0, now - float(state["started"]))
    done = len({j.get("num") for j in finished_jobs(folder)})
    position = f"[{num + 1}/{total}]" if total else f"[{num + 1}/?]"
    line = f"{position} job {num} started · {_duration(elapsed)} elapsed"
    if done and total:
        left = elapsed / done * max(total - done, 0)
        line += f" · ~{_duration(left)} left (from {done} finished job{'s' if done != 1 else ''})"
    elif total:
        line += " · time left: estimated once a job has finished"
    return line


def record_end(folder: Path, num: int, seconds: float | None = None) -> None:
    """Append the ended job to `.progress.jobs` (one short line: an atomic append between parallel workers)."""
    with open(folder / FINISHED, "a") as fh:
        fh.write(json.dumps({"num": num, "seconds": seconds}) + "\n")


# ---------------------------------------------------------------------------------------------------- summaries


def rewrite_summary(config: DictConfig, folder: Path) -> None:
    """summary.csv and summary.md of the jobs recorded so far (from MLflow), and the best job so far on the parent."""
    import mlflow

    from runner.sweep import leaderboard, render
    from runner.track import names, store

    parent_id = config.mlflow.get("parent_run_id")
    if not parent_id:
        return
    client = mlflow.MlflowClient(store.resolve_uri(config.mlflow.tracking_uri))
    parent = client.get_run(str(parent_id))
    metric = parent.data.tags.get(names.OPTIMIZED_METRIC) or str(config.optimized_metric)
    rows = leaderboard.sort(leaderboard.sweep_rows(client, parent), metric)
    title = leaderboard.sweep_title(parent, len(rows), metric) + " (so far)"
    for name, writer in ((names.SUMMARY_CSV, lambda p: render.write_csv(rows, metric, p)),
                         (names.SUMMARY_MD, lambda p: render.write_markdown(rows, metric, p, title))):
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        writer(tmp)
        tmp.replace(folder / name)  # a reader never sees half a file, parallel workers never interleave
    record_best(client, str(parent_id), rows, metric)


def record_best(client: MlflowClient, parent_run_id: str, rows: list[Row], metric: str) -> str | None:
    """The best finished job's ranking value as metric `best_<metric>` and its run id as tag `runner.best_run_id`
    on the parent run (rows ranked best first); returns that run id (None when no job has a score)."""
    best = next((r for r in rows if r.scored and not math.isnan(r.rank_value(metric))), None)
    if best is None:
        return None
    client.log_metric(parent_run_id, f"best_{metric}", float(best.rank_value(metric)))
    client.set_tag(parent_run_id, BEST_RUN_ID, best.run_id)
    return best.run_id
