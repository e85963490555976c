"""The leaderboard of a sweep or experiment: rows read from MLflow runs, ranked, and its failures.

Everything here reads MLflow only, so a past sweep's table can be rebuilt without its folder
(`python -m runner.review`). A resumed sweep's reused jobs are children of an earlier parent;
the new parent names them in its `runner.reused.<job>` tags. runner.sweep.render draws the rows.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from runner.config.schema import MAIN_METRICS, ranking_metric
from runner.track import names
from runner.track.runs import all_runs

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)


@dataclass
class Row:
    """One job of a sweep as the leaderboard shows it."""

    job: str
    run_id: str
    model: str
    sampler: str
    dataset: str
    overrides: str
    status: str
    reused: bool = False
    reason: str = ""
    fit_seconds: float = math.nan
    metrics: dict[str, float] = field(default_factory=dict)  # the held-out main metrics
    eval_kind: str = "holdout"  # tag runner.eval (absent on old runs: holdout)
    cv_means: dict[str, float] = field(default_factory=dict)  # eval=cv: cv_<M>_mean of the main metrics
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # by name: M and cv_<M>_mean
    params: dict[str, str] = field(default_factory=dict)  # what decides the rows it was scored on (SPLIT_PARAMS)
    data_digest: str = ""
    train_rows: int | None = None  # rows of its training split (its logged dataset input)
    vs_best: str = ""  # set by runner.sweep.compare: best | tied | worse | n/c | -
    p_adjusted: float = math.nan  # Holm-adjusted p of "the best is better than this job"
    artifact_uri: str = ""  # where its artifacts are (run.info.artifact_uri): its predictions are read from there
    run: Run | None = field(default=None, repr=False, compare=False)  # the MLflow run it was read from (the report's params)

    @property
    def shown_status(self) -> str:
        return "REUSED" if self.reused else self.status

    def ranked_by(self, metric: str) -> str:
        """What this job is ranked by: `cv_<metric>_mean` for an eval=cv job, else the held-out `metric`."""
        return ranking_metric(metric, self.eval_kind)

    def rank_value(self, metric: str) -> float:
        """The value the job returned to the sweeper and is ranked by (NaN when it has none)."""
        name = self.ranked_by(metric)
        return self.cv_means.get(name, math.nan) if self.eval_kind == "cv" else self.metrics.get(name, math.nan)

    def rank_interval(self, metric: str) -> tuple[float, float] | None:
        """The logged interval of the ranking value (bootstrap or corrected t), None for runs logged without one."""
        return self.intervals.get(self.ranked_by(metric))

    @property
    def scored(self) -> bool:
        """A finished job with scores (reused runs are FINISHED runs)."""
        return self.status == "FINISHED" and bool(self.metrics or self.cv_means)

    @property
    def label(self) -> str:
        extra = f" {self.overrides}" if self.overrides else ""
        return f"#{self.job} {self.model}+{self.sampler}{extra}"


GROUPS = ("dataset=", "model=", "sampler=")


def _extra_overrides(text: str) -> str:
    """Overrides beyond the group choices (those have their own columns)."""
    return " ".join(o for o in text.split() if not o.startswith(GROUPS))


# The params that decide which rows a job was scored on (runner.sweep.compare reads them).
SPLIT_PARAMS = ("dataset.test_size", "dataset.random_state", "seed", "eval.folds", "eval.repeats",
                "eval.confidence", "eval.bootstrap")


def _intervals(logged: dict[str, float]) -> dict[str, tuple[float, float]]:
    """(low, high) of every main metric M (`M_ci_low`/`M_ci_high`) and CV mean (`cv_M_ci_low`/`cv_M_ci_high`)."""
    out = {}
    for m in MAIN_METRICS:
        for name, prefix in ((m, m), (f"cv_{m}_mean", f"cv_{m}")):
            low, high = logged.get(f"{prefix}_ci_low"), logged.get(f"{prefix}_ci_high")
            if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
                out[name] = (low, high)
    return out


def _train_rows(run: Run) -> int | None:
    """Rows of the job's training split: the profile of its `training` dataset input (None if not logged)."""
    import json

    for given in getattr(run.inputs, "dataset_inputs", None) or []:
        if any(t.value == "training" for t in given.tags):
            try:
                rows = json.loads(given.dataset.profile or "{}").get("num_rows")
            except ValueError:
                return None
            return int(rows) if isinstance(rows, int) else None
    return None


def row_of(run: Run, job: str | None = None, reused: bool = False) -> Row:
    """A row from an MLflow run."""
    tags = run.data.tags
    logged = run.data.metrics
    metrics = {k: v for k, v in logged.items() if k in MAIN_METRICS}
    cv_means = {k: v for k in (f"cv_{m}_mean" for m in MAIN_METRICS) if (v := logged.get(k)) is not None}
    return Row(
        job=job if job is not None else tags.get(names.JOB_NUM, "-"),
        run_id=run.info.run_id,
        model=tags.get(names.MODEL, "?"),
        sampler=tags.get(names.SAMPLER, "?"),
        dataset=tags.get(names.DATASET, "?"),
        overrides=_extra_overrides(tags.get(names.OVERRIDES, "")),
        status=run.info.status,
        reused=reused,
        reason=tags.get(names.FAILURE, ""),
        fit_seconds=logged.get("fit_seconds", math.nan),
        metrics=metrics,
        eval_kind=tags.get(names.EVAL, "holdout"),
        cv_means=cv_means,
        intervals=_intervals(logged),
        params={k: run.data.params[k] for k in SPLIT_PARAMS if k in run.data.params},
        data_digest=tags.get(names.DATA_DIGEST, ""),
        train_rows=_train_rows(run),
        artifact_uri=run.info.artifact_uri or "",
        run=run,
    )


def sweep_rows(client: MlflowClient, parent: Run) -> list[Row]:
    """The jobs of a sweep: the parent's children plus the earlier runs it reused (as REUSED)."""
    children = all_runs(client, [parent.info.experiment_id], f"tags.`{names.PARENT}` = '{parent.info.run_id}'")
    rows = [row_of(r) for r in children]
    reused = {key[len(names.REUSED_PREFIX):]: run_id for key, run_id in sorted(parent.data.tags.items())
              if key.startswith(names.REUSED_PREFIX)}
    found = runs_by_id(client, list(reused.values()))
    for job, run_id in reused.items():
        if run_id not in found:  # deleted since: say so rather than drop the job
            log.warning("job %s reused run %s, which no longer exists", job, run_id)
            continue
        rows.append(row_of(found[run_id], job=job, reused=True))
    return rows


def runs_by_id(client: MlflowClient, run_ids: Sequence[str]) -> dict[str, Run]:
    """The runs with these ids (params, metrics, tags; deleted ones too, as get_run gives them), in a few
    searches rather than one call per run."""
    from mlflow.entities import ViewType

    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    out: dict[str, Run] = {}
    for start in range(0, len(ids), 100):
        chunk = ids[start:start + 100]
        quoted = ", ".join(f"'{i}'" for i in chunk)
        token = None
        while True:
            page = client.search_runs(experiments, filter_string=f"attributes.run_id IN ({quoted})",
                                      run_view_type=ViewType.ALL, max_results=1000, page_token=token)
            out.update({r.info.run_id: r for r in page})
            token = page.token
            if not token:
                break
    return out


def experiment_rows(client: MlflowClient, experiment_id: str) -> list[Row]:
    """Every job run of an experiment (single runs and sweep jobs; not the sweeps' parent runs)."""
    return [row_of(r) for r in all_runs(client, [experiment_id]) if r.data.tags.get(names.SWEEP) != "true"]


def latest_sweep(client: MlflowClient, experiment_ids: list[str] | None = None) -> Run | None:
    """The most recently started sweep parent run in the store (or in the given experiments)."""
    if experiment_ids is None:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
    if not experiment_ids:
        return None
    runs = client.search_runs(experiment_ids, filter_string=f"tags.`{names.SWEEP}` = 'true'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def sweep_title(parent: Run, n: int, metric: str) -> str:
    """'sweep <date>/<time>: N jobs by <metric>' from the parent run alone."""
    folder = parent.data.tags.get(names.SWEEP_DIR)
    name = "/".join(Path(folder).parts[-2:]) if folder else parent.info.run_id[:8]
    return f"sweep {name}: {n} jobs by {metric}"


def sort(rows: Iterable[Row], metric: str) -> list[Row]:
    """Best first by each row's ranking value (`metric`, or its CV mean for an eval=cv job); runs without
    one (failed, killed) last, in job order."""
    def key(r: Row) -> tuple[bool, float, int, str]:
        v = r.rank_value(metric)
        num = int(r.job) if str(r.job).isdigit() else 10**9
        return (math.isnan(v), -v if not math.isnan(v) else 0.0, num, r.run_id)

    return sorted(rows, key=key)


def common_overrides(rows: list[Row]) -> list[str]:
    """Overrides every row shares (shown once, above the table, instead of on every row)."""
    if len(rows) < 2:
        return []
    first = rows[0].overrides.split()
    return [o for o in first if all(o in r.overrides.split() for r in rows[1:])]


def varying(row: Row, common: list[str]) -> str:
    """A row's overrides less the common ones."""
    return " ".join(o for o in row.overrides.split() if o not in common)


def failures(rows: list[Row]) -> list[Row]:
    """Jobs that did not finish (FAILED or KILLED), in job order."""
    bad = [r for r in rows if not r.reused and r.status in ("FAILED", "KILLED")]
    return sorted(bad, key=lambda r: int(r.job) if str(r.job).isdigit() else 10**9)


def failure_summary(rows: list[Row]) -> str:
    """One line: how many jobs failed and why ('' when none did)."""
    bad = failures(rows)
    if not bad:
        return ""
    reasons = "; ".join(f"job {r.job} {r.status}: {r.reason or 'no reason recorded'}" for r in bad)
    return f"{len(bad)} of {len(rows)} jobs failed: {reasons}"


SHOWN_METRICS = ("f1", "roc_auc", "average_precision", "balanced_accuracy", "accuracy", "precision", "recall")


def metric_columns(metric: str) -> list[str]:
    """The ranking metric first, then the other shown metrics."""
    return [metric] + [m for m in SHOWN_METRICS if m != metric]
