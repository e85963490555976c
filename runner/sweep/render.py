"""A leaderboard's renderings: the terminal table (rich), summary.csv, summary.md and comparison.png."""
from __future__ import annotations

import csv
import math
import os
import sys
from pathlib import Path
from typing import Any

from runner.config.schema import MAIN_METRICS
from runner.sweep.leaderboard import Row, common_overrides, failures, metric_columns, varying
from runner.track import names

TERMINAL_METRICS = 4  # the ranking metric and three more fit an 80-column terminal
STATUS_COLORS = {"FINISHED": "green", "REUSED": "cyan", "FAILED": "red", "KILLED": "yellow", "RUNNING": "magenta"}
SHORT = {"average_precision": "avg_prec", "balanced_accuracy": "bal_acc", "fit_seconds": "fit s"}  # terminal only


def _fmt(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def columns(metric: str) -> list[str]:
    """Every column of the files, in order."""
    return ["rank", "job", "model", "sampler", "overrides", *metric_columns(metric), "fit_seconds", "status",
            "run_id", "reason"]


def records(rows: list[Row], metric: str, common: list[str] | None = None) -> list[dict[str, str]]:
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
    """The table as Markdown, the overrides every job shares said once above it."""
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
        write_csv(rows, metric, folder / names.SUMMARY_CSV),
        write_markdown(rows, metric, folder / names.SUMMARY_MD, title),
        write_chart(rows, metric, folder / names.COMPARISON_PNG, title),
    ]
