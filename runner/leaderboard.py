"""The leaderboard of a sweep: rows from MLflow runs, a terminal table, CSV, Markdown and a chart.

Everything here reads MLflow only, so a past sweep's table can be rebuilt without its folder.
"""
from __future__ import annotations

import csv
import sys
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from runner.evaluate import MAIN_METRICS

SHOWN_METRICS = ("f1", "roc_auc", "average_precision", "balanced_accuracy", "accuracy", "precision", "recall")
REASON_TAG = "runner.failure"


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


def sweep_rows(client: Any, parent: Any) -> list[Row]:
    """The jobs of a sweep: the parent's children plus the earlier runs it reused."""
    parent_id = parent.info.run_id
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'", max_results=5000
    )
    rows = {r.info.run_id: row_of(r) for r in children}
    for key, run_id in parent.data.tags.items():
        if key.startswith("runner.reused.") and run_id not in rows:
            rows[run_id] = row_of(client.get_run(run_id), job=key.rsplit(".", 1)[-1], reused=True)
    return list(rows.values())


def sort(rows: Iterable[Row], metric: str) -> list[Row]:
    """Best first by `metric`; runs without it (failed, killed) last, in job order."""
    def key(r: Row) -> tuple:
        v = r.metrics.get(metric, math.nan)
        num = int(r.job) if str(r.job).isdigit() else 10**9
        return (math.isnan(v), -v if not math.isnan(v) else 0.0, num)

    return sorted(rows, key=key)


def _fmt(v: float) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def columns(metric: str) -> list[str]:
    metrics = [metric] + [m for m in SHOWN_METRICS if m != metric]
    return ["rank", "job", "model", "sampler", "overrides", *metrics, "fit_seconds", "status", "run_id", "reason"]


def records(rows: list[Row], metric: str) -> list[dict[str, str]]:
    """Rows as plain string records in the column order (shared by CSV, Markdown and the terminal)."""
    out = []
    for i, r in enumerate(rows, 1):
        rec = {"rank": str(i), "job": str(r.job), "model": r.model, "sampler": r.sampler, "overrides": r.overrides}
        for m in columns(metric)[5:-4]:
            rec[m] = _fmt(r.metrics.get(m, math.nan))
        rec["fit_seconds"] = "" if math.isnan(r.fit_seconds) else f"{r.fit_seconds:.3f}"
        rec["status"] = "REUSED" if r.reused else r.status
        rec["run_id"] = r.run_id
        rec["reason"] = r.reason
        out.append(rec)
    return out


def print_table(rows: list[Row], metric: str, title: str, console: Any = None) -> None:
    """The leaderboard in the terminal (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if sys.stdout.isatty() else 200)
    table = Table(title=title, show_lines=False)
    cols = [c for c in columns(metric) if c not in ("precision", "recall")]
    for c in cols:
        justify = "right" if c in MAIN_METRICS or c in ("rank", "job", "fit_seconds") else "left"
        style = "bold" if c == metric else None
        table.add_column(c, justify=justify, style=style, overflow="fold")
    for rec in records(rows, metric):
        status = rec["status"]
        color = {"FINISHED": "green", "REUSED": "cyan", "FAILED": "red", "KILLED": "yellow"}.get(status, "white")
        rec = {**rec, "status": f"[{color}]{status}[/{color}]", "run_id": rec["run_id"][:8]}
        table.add_row(*(rec[c] for c in cols))
    console.print(table)


def write_csv(rows: list[Row], metric: str, path: Path) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns(metric))
        writer.writeheader()
        writer.writerows(records(rows, metric))
    return path


def write_markdown(rows: list[Row], metric: str, path: Path, title: str) -> Path:
    cols = columns(metric)
    lines = [f"# {title}", "", f"Sorted by `{metric}` (best first).", "",
             "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for rec in records(rows, metric):
        lines.append("| " + " | ".join(rec[c].replace("|", "\\|") for c in cols) + " |")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_chart(rows: list[Row], metric: str, path: Path, title: str) -> Path:
    """Grouped horizontal bars: each job's main metrics, labelled with its choices."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    scored = [r for r in rows if r.metrics]
    shown = [m for m in (metric, "roc_auc", "average_precision", "balanced_accuracy", "accuracy")
             if any(m in r.metrics for r in scored)]
    shown = list(dict.fromkeys(shown))
    height = max(2.5, 0.45 * len(scored) * max(1, len(shown)) / 2 + 1.5)
    fig, ax = plt.subplots(figsize=(9, height))
    if scored:
        y = np.arange(len(scored))
        bar = 0.8 / len(shown)
        for i, m in enumerate(shown):
            vals = [r.metrics.get(m, np.nan) for r in scored]
            bars = ax.barh(y + i * bar - 0.4 + bar / 2, vals, height=bar, label=m)
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
        ax.set_yticks(y, [r.label for r in scored], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.12)
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no job finished", ha="center", va="center")
    ax.set_xlabel("score on the held-out split")
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
