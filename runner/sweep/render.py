"""A leaderboard's renderings: the terminal table (rich), summary.csv, summary.md and comparison.png."""
from __future__ import annotations

import csv
import logging
import math
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from runner.config.schema import MAIN_METRICS
from runner.sweep.compare import Verdict, note
from runner.sweep.leaderboard import Row, common_overrides, failures, metric_columns, varying
from runner.track import names

log = logging.getLogger(__name__)

TERMINAL_METRICS = 4  # the ranking metric and three more fit an 80-column terminal
STATUS_COLORS = {"FINISHED": "green", "REUSED": "cyan", "FAILED": "red", "KILLED": "yellow", "RUNNING": "magenta"}
SHORT = {"average_precision": "avg_prec", "balanced_accuracy": "bal_acc", "fit_seconds": "fit s"}  # terminal only


def _fmt(v: float | None, digits: int = 4) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _fmt_p(p: float) -> str:
    return "" if math.isnan(p) else "<0.001" if p < 0.001 else f"{p:.3f}"


def _has_cv(rows: list[Row]) -> bool:
    return any(r.eval_kind == "cv" for r in rows)


def columns(metric: str, cv: bool = False) -> list[str]:
    """Every column of the files, in order; with `cv` (some job used eval=cv) its ranking value and interval too."""
    cv_cols = [f"cv_{metric}_mean", f"cv_{metric}_ci_low", f"cv_{metric}_ci_high"] if cv else []
    return ["rank", "job", "model", "sampler", "overrides", *metric_columns(metric), f"{metric}_ci_low",
            f"{metric}_ci_high", *cv_cols, "vs_best", "p_adjusted", "fit_seconds", "status", "run_id", "reason"]


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
        low, high = r.intervals.get(metric, (math.nan, math.nan))
        rec[f"{metric}_ci_low"], rec[f"{metric}_ci_high"] = _fmt(low), _fmt(high)
        cv = f"cv_{metric}_mean"
        low, high = r.intervals.get(cv, (math.nan, math.nan))
        rec[cv], rec[f"cv_{metric}_ci_low"], rec[f"cv_{metric}_ci_high"] = (
            _fmt(r.cv_means.get(cv, math.nan)), _fmt(low), _fmt(high))
        rec["vs_best"] = r.vs_best
        rec["p_adjusted"] = _fmt(r.p_adjusted)
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


def ranking_header(rows: list[Row], metric: str) -> str:
    """The terminal's ranking column: `metric`, `cv_<metric>_mean` (eval=cv) or `metric*` when both kinds rank."""
    kinds = {r.eval_kind == "cv" for r in rows if r.scored}
    if kinds == {True}:
        return f"cv_{metric}_mean"
    return f"{metric}*" if kinds == {True, False} else metric


def ranking_cell(r: Row, metric: str, interval: bool = True) -> str:
    """`0.873 [0.764, 0.955]`: the ranking value and its interval (3 decimals), or the value alone."""
    value = r.rank_value(metric)
    if math.isnan(value):
        return ""
    ci = r.rank_interval(metric)
    if not interval or ci is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def vs_best_cell(r: Row, p: bool = True) -> str:
    """`tied p=0.412`, `worse p<0.001`, `best`, `n/c`, `-` or nothing."""
    if not p or math.isnan(r.p_adjusted):
        return r.vs_best
    shown = _fmt_p(r.p_adjusted)
    return f"{r.vs_best} p{shown}" if shown.startswith("<") else f"{r.vs_best} p={shown}"


RANK = "__ranking__"     # the terminal's ranking column (value and interval)
INTERVAL = "__interval__"  # pseudo-columns: dropping them shortens a cell rather than removing a column
P_VALUE = "__p__"


def _terminal_recs(rows: list[Row], metric: str, recs: list[dict[str, str]], keep: set[str]) -> list[dict[str, str]]:
    out = []
    for r, rec in zip(rows, recs, strict=True):
        cells = {**rec, RANK: ranking_cell(r, metric, INTERVAL in keep), "vs_best": vs_best_cell(r, P_VALUE in keep)}
        for m in MAIN_METRICS:
            cells[m] = _fmt(r.metrics.get(m, math.nan), 3)
        out.append(cells)
    return out


def _header(c: str, rows: list[Row], metric: str) -> str:
    if c == RANK:
        return ranking_header(rows, metric)
    return {"vs_best": "vs best"}.get(c, SHORT.get(c, c))


def _fit(cols: list[str], rows: list[Row], metric: str, recs: list[dict[str, str]], width: int,
         optional: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Drop optional columns (in the given order) until the table fits `width` characters.

    The pseudo-columns INTERVAL and P_VALUE, when dropped, shorten the ranking and `vs best` cells.
    """
    def natural(c: str, cells: list[dict[str, str]]) -> int:
        texts = [len(rec[c][:8] if c == "run_id" else rec[c]) for rec in cells]
        return min(max([len(_header(c, rows, metric)), *texts]), 30)  # long overrides fold within 30

    keep = set(cols) | {INTERVAL, P_VALUE}
    for c in [*optional, None]:
        shown = [k for k in cols if k in keep]
        cells = _terminal_recs(rows, metric, recs, keep)
        if c is None or sum(natural(k, cells) for k in shown) + 3 * (len(shown) - 1) + 2 <= width:  # + the edges
            return shown, cells
        keep.discard(c)
    raise AssertionError("unreachable")


def print_table(rows: list[Row], metric: str, title: str, out: Any = None, verdict: Verdict | None = None) -> None:
    """The leaderboard in the terminal (rich): as many columns as fit, the note and failures below.

    Every row shows job, choices, varying overrides, the ranking value (with its interval), how it
    compares with the best and its status; further metrics, fit time, rank, run id, the p-value and
    the interval are dropped (in that order) in a narrow terminal. The files hold every column.
    """
    from rich.markup import escape

    out = out or console()
    out.print(terminal_table(rows, metric, title, out))
    for line in note(rows, metric, verdict):
        out.print(escape(line), style="dim")
    for r in failures(rows):
        out.print(f"job {r.job} {r.status} (run {r.run_id[:8]}): {escape(r.reason or 'no reason recorded')}",
                  style=STATUS_COLORS.get(r.status))


def terminal_table(rows: list[Row], metric: str, title: str, out: Any, fixed_widths: bool = True) -> Any:
    """The rich Table `print_table` draws on console `out`; `fixed_widths`: its column widths measured on a few
    rows (`fix_widths`: the same table, drawn in a fraction of the time for thousands of rows)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    common = common_overrides(rows)
    recs = records(rows, metric, common)
    others = [m for m in metric_columns(metric) if m != metric or _has_cv(rows)]  # eval=cv: the refit's `metric` too
    metrics = [m for m in others[: TERMINAL_METRICS - 1] if any(m in r.metrics for r in rows)]
    cols = ["rank", "job", "model", "sampler", "overrides", RANK, "vs_best", *metrics, "fit_seconds", "status", "run_id"]
    if not any(rec["overrides"] for rec in recs):
        cols.remove("overrides")
    if not any(r.vs_best for r in rows):
        cols.remove("vs_best")
    optional = ["run_id", *reversed(metrics), "fit_seconds", "rank", P_VALUE, INTERVAL]
    cols, cells = _fit(cols, rows, metric, recs, out.width, optional)
    caption = escape(f"all jobs: {' '.join(common)}") if common else None  # e.g. dataset.drop=[id]

    def table() -> Table:
        t = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, caption_justify="left")
        for c in cols:
            numeric = c in MAIN_METRICS or c in ("rank", "job", "fit_seconds", RANK)
            t.add_column(_header(c, rows, metric), justify="right" if numeric else "left",
                         style="bold" if c == RANK else None, no_wrap=c != "overrides", overflow="fold")
        return t

    data = []
    for rec in cells:
        color = STATUS_COLORS.get(rec["status"], "white")
        rec = {**rec, "status": f"[{color}]{rec['status']}[/{color}]", "run_id": rec["run_id"][:8],
               "overrides": escape(rec["overrides"])}
        # parsed once here, as the table would parse each cell (twice: to measure it, then to draw it)
        data.append([out.render_str(rec[c], highlight=False) for c in cols])
    full = table()
    if fixed_widths:
        fix_widths(full, table, data, out)
    for cells_of_row in data:
        full.add_row(*cells_of_row)
    return full


def fix_widths(full: Any, empty_table: Any, data: list[list[Any]], out: Any) -> None:
    """Set every column of `full` to the width rich would give it, measured on a handful of `data`'s rows.

    Rich sizes a column by the widest cell and the longest word of any cell in it (rich.text.Text's
    measure), then shrinks the wrapping columns to the terminal; that needs only the rows holding those
    extremes. Measuring those (at most two per column) instead of every cell, then giving the full table
    fixed widths, draws the same table: 3,000 rows are measured in milliseconds instead of ~1.5 s. Nothing
    changes when this rich has no such internals (the full table then measures itself).
    """
    from rich.cells import cell_len

    if not data:
        return

    def widest(text: Any) -> int:
        return max((cell_len(line) for line in text.plain.splitlines()), default=0)

    def longest_word(text: Any) -> int:
        words = text.plain.split()
        return max((cell_len(w) for w in words), default=0) if words else widest(text)

    picked: set[int] = set()
    for j in range(len(full.columns)):
        picked.add(max(range(len(data)), key=lambda i: widest(data[i][j])))
        picked.add(max(range(len(data)), key=lambda i: longest_word(data[i][j])))
    sample = empty_table()
    for i in sorted(picked):
        sample.add_row(*data[i])
    try:
        options = out.options
        widths = sample._calculate_column_widths(out, options.update_width(options.max_width - sample._extra_width))
        inner = [w - full._get_padding_width(c._index) for c, w in zip(full.columns, widths, strict=True)]
    except (AttributeError, TypeError, ValueError) as e:  # another rich: let it measure every cell
        log.debug("rich measures the whole table: %s", e)
        return
    if min(inner) < 1:  # a column squeezed to nothing (a very narrow terminal): rich's own pass decides
        return
    for column, width in zip(full.columns, inner, strict=True):
        column.width = width


def write_csv(rows: list[Row], metric: str, path: Path) -> Path:
    """Every column; each job's full overrides (beyond its group choices)."""
    cols = columns(metric, _has_cv(rows))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records(rows, metric))
    return path


def write_markdown(rows: list[Row], metric: str, path: Path, title: str, verdict: Verdict | None = None) -> Path:
    """The table as Markdown, the overrides every job shares said once above it, the note below it."""
    cols = columns(metric, _has_cv(rows))
    common = common_overrides(rows)
    by = f"`{metric}`" + (f" (`cv_{metric}_mean` for eval=cv jobs)" if _has_cv(rows) else "")
    lines = [f"# {title}", "", f"Sorted by {by} (best first)."]
    if common:
        lines.append(f"Overrides of all jobs: `{' '.join(common)}`.")
    lines += ["", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for rec in records(rows, metric, common):
        lines.append("| " + " | ".join(rec[c].replace("|", "\\|") for c in cols) + " |")
    explained = note(rows, metric, verdict)
    if explained:
        lines += ["", *(f"- {line}" for line in explained)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_chart(rows: list[Row], metric: str, path: Path, title: str, verdict: Verdict | None = None) -> Path:
    """Grouped horizontal bars: each job's main metrics, labelled with its choices and how it compares with
    the best; the ranking value's bar carries its interval as an error bar."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    common = common_overrides(rows)
    scored = [r for r in rows if r.metrics or r.cv_means]
    others = [m for m in metric_columns(metric) if m != metric or _has_cv(scored)]
    shown = [RANK, *[m for m in others if any(m in r.metrics for r in scored)][:4]]
    height = max(2.5, 0.45 * len(scored) * max(1, len(shown)) / 2 + 1.5)
    fig, ax = plt.subplots(figsize=(10, height))
    if scored:
        y = np.arange(len(scored))
        bar = 0.8 / len(shown)
        for i, m in enumerate(shown):
            at = y + i * bar - 0.4 + bar / 2
            if m != RANK:
                bars = ax.barh(at, [r.metrics.get(m, np.nan) for r in scored], height=bar, label=m)
                ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
                continue
            vals = np.array([r.rank_value(metric) for r in scored])
            cis = [r.rank_interval(metric) or (v, v) for r, v in zip(scored, vals, strict=True)]
            low = np.array([c[0] for c in cis])
            high = np.array([c[1] for c in cis])
            err = np.nan_to_num(np.vstack([vals - low, high - vals]).clip(min=0))
            ax.barh(at, vals, height=bar, label=f"{ranking_header(scored, metric)} (error bar: interval)",
                    xerr=err, error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "black"})
            for yy, v, hi in zip(at, vals, high, strict=True):
                if not math.isnan(v):
                    ax.text(np.nanmax([v, hi]) + 0.01, yy, f"{v:.3f}", va="center", fontsize=7)
        labels = [f"#{r.job} {r.model}+{r.sampler} {varying(r, common)}".strip()
                  + (" (reused)" if r.reused else "") + (f" [{r.vs_best}]" if r.vs_best else "") for r in scored]
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.12)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no job finished", ha="center", va="center")
    not_scored = len(rows) - len(scored)
    xlabel = "score on the held-out split" + (f" (cv_{metric}_mean: over the folds)" if _has_cv(scored) else "")
    if common:
        xlabel += f"   (all jobs: {' '.join(common)})"
    explained = [line.replace("[low, high]: ", f"error bars on {ranking_header(scored, metric)}: ", 1)
                 for line in note(rows, metric, verdict)]
    xlabel += "".join("\n" + textwrap.fill(line, 150) for line in explained)
    if not_scored:
        xlabel += f"\n{not_scored} job(s) without scores (failed or killed): see summary.md"
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_all(rows: list[Row], metric: str, folder: Path, title: str, verdict: Verdict | None = None) -> list[Path]:
    """summary.csv, summary.md and comparison.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_csv(rows, metric, folder / names.SUMMARY_CSV),
        write_markdown(rows, metric, folder / names.SUMMARY_MD, title, verdict),
        write_chart(rows, metric, folder / names.COMPARISON_PNG, title, verdict),
    ]
