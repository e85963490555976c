"""The leaderboard of a sweep: rows from MLflow runs, a terminal table, CSV, Markdown and a chart.

Everything here reads MLflow only, so a past sweep's table can be rebuilt without its folder
(`python -m runner.review`). A resumed sweep's reused jobs are children of an earlier parent;
the new parent names them in its `runner.reused.<job>` tags.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from runner.evaluate import MAIN_METRICS

log = logging.getLogger(__name__)

SHOWN_METRICS = ("f1", "roc_auc", "average_precision", "balanced_accuracy", "accuracy", "precision", "recall")
TERMINAL_METRICS = 4  # the ranking metric and three more fit an 80-column terminal
REASON_TAG = "runner.failure"
SWEEP_TAG = "runner.sweep"
JOB_TAG = "runner.job."
REUSED_TAG = "runner.reused."
STATUS_COLORS = {"FINISHED": "green", "REUSED": "cyan", "FAILED": "red", "KILLED": "yellow", "RUNNING": "magenta"}
SHORT = {"average_precision": "avg_prec", "balanced_accuracy": "bal_acc", "fit_seconds": "fit s"}  # terminal only


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
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def shown_status(self) -> str:
        return "REUSED" if self.reused else self.status

    @property
    def label(self) -> str:
        extra = f" {self.overrides}" if self.overrides else ""
        return f"#{self.job} {self.model}+{self.sampler}{extra}"


GROUPS = ("dataset=", "model=", "sampler=")


def _extra_overrides(text: str) -> str:
    """Overrides beyond the group choices (those have their own columns)."""
    return " ".join(o for o in text.split() if not o.startswith(GROUPS))


def row_of(run: Any, job: Optional[str] = None, reused: bool = False) -> Row:
    """A row from an MLflow run."""
    tags = run.data.tags
    metrics = {k: v for k, v in run.data.metrics.items() if k in MAIN_METRICS}
    return Row(
        job=job if job is not None else tags.get("runner.job_num", "-"),
        run_id=run.info.run_id,
        model=tags.get("runner.model", "?"),
        sampler=tags.get("runner.sampler", "?"),
        dataset=tags.get("runner.dataset", "?"),
        overrides=_extra_overrides(tags.get("runner.overrides", "")),
        status=run.info.status,
        reused=reused,
        reason=tags.get(REASON_TAG, ""),
        fit_seconds=run.data.metrics.get("fit_seconds", math.nan),
        metrics=metrics,
    )


def all_runs(client: Any, experiment_ids: list[str], filter_string: str = "") -> list[Any]:
    """Every run matching the filter, following MLflow's pages."""
    out: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string=filter_string, max_results=1000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


def sweep_rows(client: Any, parent: Any) -> list[Row]:
    """The jobs of a sweep: the parent's children plus the earlier runs it reused (as REUSED)."""
    from mlflow.exceptions import MlflowException

    children = all_runs(client, [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    rows = [row_of(r) for r in children]
    for key, run_id in sorted(parent.data.tags.items()):
        if not key.startswith(REUSED_TAG):
            continue
        try:
            run = client.get_run(run_id)
        except MlflowException:  # deleted since: say so rather than drop the job
            log.warning("job %s reused run %s, which no longer exists", key[len(REUSED_TAG):], run_id)
            continue
        rows.append(row_of(run, job=key[len(REUSED_TAG):], reused=True))
    return rows


def experiment_rows(client: Any, experiment_id: str) -> list[Row]:
    """Every job run of an experiment (single runs and sweep jobs; not the sweeps' parent runs)."""
    return [row_of(r) for r in all_runs(client, [experiment_id]) if r.data.tags.get(SWEEP_TAG) != "true"]


def latest_sweep(client: Any, experiment_ids: Optional[list[str]] = None) -> Optional[Any]:
    """The most recently started sweep parent run in the store (or in the given experiments)."""
    if experiment_ids is None:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
    if not experiment_ids:
        return None
    runs = client.search_runs(experiment_ids, filter_string=f"tags.`{SWEEP_TAG}` = 'true'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def sweep_title(parent: Any, n: int, metric: str) -> str:
    """'sweep <date>/<time>: N jobs by <metric>' from the parent run alone."""
    folder = parent.data.tags.get("runner.sweep_dir")
    name = "/".join(Path(folder).parts[-2:]) if folder else parent.info.run_id[:8]
    return f"sweep {name}: {n} jobs by {metric}"


def sort(rows: Iterable[Row], metric: str) -> list[Row]:
    """Best first by `metric`; runs without it (failed, killed) last, in job order."""
    def key(r: Row) -> tuple:
        v = r.metrics.get(metric, math.nan)
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


def _fmt(v: float) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def metric_columns(metric: str) -> list[str]:
    return [metric] + [m for m in SHOWN_METRICS if m != metric]


def columns(metric: str) -> list[str]:
    return ["rank", "job", "model", "sampler", "overrides", *metric_columns(metric), "fit_seconds", "status",
            "run_id", "reason"]


def records(rows: list[Row], metric: str, common: Optional[list[str]] = None) -> list[dict[str, str]]:
    """Rows as plain string records in the column order (shared by CSV, Markdown and the terminal).

    With `common`, the overrides column holds only what differs from it.
    """
    out = []
    for i, r in enumerate(rows, 1):
        overrides = varying(r, common) if common is not None else r.overrides
        rec = {"rank": str(i), "job": str(r.job), "model": r.model, "sampler": r.sampler, "overrides": overrides}
        for m in metric_columns(metric):
            rec[m] = _fmt(r.metrics.get(m, math.nan))
        rec["fit_seconds"] = "" if math.isnan(r.fit_seconds) else f"{r.fit_seconds:.3f}"
        rec["status"] = r.shown_status
        rec["run_id"] = r.run_id
        rec["reason"] = r.reason
        out.append(rec)
    return out


def console() -> Any:
    """A rich console: the terminal's width, or 160 columns (no colours) when writing to a log or pipe."""
    from rich.console import Console

    wide = sys.stdout.isatty() or "COLUMNS" in os.environ
    return Console(width=None if wide else 160, highlight=False)


def _fit(cols: list[str], recs: list[dict[str, str]], width: int, optional: list[str]) -> list[str]:
    """Drop optional columns (in the given order) until the table fits `width` characters."""
    def natural(c: str) -> int:
        cells = [len(rec[c][:8] if c == "run_id" else rec[c]) for rec in recs]
        return min(max([len(SHORT.get(c, c)), *cells]), 30)  # long overrides fold within 30

    cols = list(cols)
    for c in optional:
        if sum(natural(k) for k in cols) + 3 * (len(cols) - 1) <= width:
            break
        cols.remove(c)
    return cols


def print_table(rows: list[Row], metric: str, title: str, out: Any = None) -> None:
    """The leaderboard in the terminal (rich): as many columns as fit, failures listed below.

    Every row shows job, choices, varying overrides, the ranking metric and status; further
    metrics, fit time, rank and run id are dropped (last first) in a narrow terminal. The files
    hold every column.
    """
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    out = out or console()
    common = common_overrides(rows)
    recs = records(rows, metric, common)
    metrics = [m for m in metric_columns(metric)[:TERMINAL_METRICS] if any(m in r.metrics for r in rows)] or [metric]
    cols = ["rank", "job", "model", "sampler", "overrides", *metrics, "fit_seconds", "status", "run_id"]
    if not any(rec["overrides"] for rec in recs):
        cols.remove("overrides")
    optional = ["run_id", *reversed(metrics[1:]), "fit_seconds", "rank"]
    cols = _fit(cols, recs, out.width, optional)
    caption = f"all jobs: {' '.join(common)}" if common else None
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, caption_justify="left")
    for c in cols:
        numeric = c in MAIN_METRICS or c in ("rank", "job", "fit_seconds")
        table.add_column(SHORT.get(c, c), justify="right" if numeric else "left",
                         style="bold" if c == metric else None, no_wrap=c != "overrides", overflow="fold")
    for rec in recs:
        color = STATUS_COLORS.get(rec["status"], "white")
        rec = {**rec, "status": f"[{color}]{rec['status']}[/{color}]", "run_id": rec["run_id"][:8],
               "overrides": escape(rec["overrides"])}
        table.add_row(*(rec[c] for c in cols))
    out.print(table)
    for r in failures(rows):
        out.print(f"job {r.job} {r.status} (run {r.run_id[:8]}): {escape(r.reason or 'no reason recorded')}",
                  style=STATUS_COLORS.get(r.status))


def write_csv(rows: list[Row], metric: str, path: Path) -> Path:
    """Every column; each job's full overrides (beyond its group choices)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns(metric))
        writer.writeheader()
        writer.writerows(records(rows, metric))
    return path


def write_markdown(rows: list[Row], metric: str, path: Path, title: str) -> Path:
    cols = columns(metric)
    common = common_overrides(rows)
    lines = [f"# {title}", "", f"Sorted by `{metric}` (best first)."]
    if common:
        lines.append(f"Overrides of all jobs: `{' '.join(common)}`.")
    lines += ["", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for rec in records(rows, metric, common):
        lines.append("| " + " | ".join(rec[c].replace("|", "\\|") for c in cols) + " |")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_chart(rows: list[Row], metric: str, path: Path, title: str) -> Path:
    """Grouped horizontal bars: each job's main metrics, labelled with its choices."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    common = common_overrides(rows)
    scored = [r for r in rows if r.metrics]
    shown = [m for m in metric_columns(metric)[:5] if any(m in r.metrics for r in scored)]
    height = max(2.5, 0.45 * len(scored) * max(1, len(shown)) / 2 + 1.5)
    fig, ax = plt.subplots(figsize=(10, height))
    if scored:
        y = np.arange(len(scored))
        bar = 0.8 / len(shown)
        for i, m in enumerate(shown):
            vals = [r.metrics.get(m, np.nan) for r in scored]
            bars = ax.barh(y + i * bar - 0.4 + bar / 2, vals, height=bar, label=m)
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
        labels = [f"#{r.job} {r.model}+{r.sampler} {varying(r, common)}".strip()
                  + (" (reused)" if r.reused else "") for r in scored]
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.12)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no job finished", ha="center", va="center")
    not_scored = len(rows) - len(scored)
    xlabel = "score on the held-out split"
    if common:
        xlabel += f"   (all jobs: {' '.join(common)})"
    if not_scored:
        xlabel += f"\n{not_scored} job(s) without scores (failed or killed): see summary.md"
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_all(rows: list[Row], metric: str, folder: Path, title: str) -> list[Path]:
    """summary.csv, summary.md and comparison.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_csv(rows, metric, folder / "summary.csv"),
        write_markdown(rows, metric, folder / "summary.md", title),
        write_chart(rows, metric, folder / "comparison.png", title),
    ]
