"""A monitoring check's renderings: the terminal tables, report.md, report.json and drift.png."""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.serve.drift import Result

if TYPE_CHECKING:
    from runner.serve.monitor import Champion


def _f(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if 0 < abs(v) < 10 ** -digits:
        return f"{v:.1e}"
    return f"{v:.{digits}f}"


def drift_rows(result: Result) -> list[list[str]]:
    return [[d.column, d.role, _f(d.psi), _f(d.psi_noise), _f(d.ks_statistic), _f(d.ks_pvalue, 4), _f(d.ref_mean),
             _f(d.cur_mean), "DRIFT" if d.flagged else ""] for d in result.drift]


DRIFT_HEAD = ["column", "role", "PSI", "PSI noise", "KS stat", "KS p (adj.)", "ref mean", "batch mean", "flag"]
METRIC_HEAD = ["metric", "logged (evaluation)", "batch", "change", "flag"]


def metric_rows(result: Result) -> list[list[str]]:
    return [[m.metric + (" *" if m.watched else ""), _f(m.logged, 4), _f(m.current, 4), f"{m.change:+.4f}",
             "DEGRADED" if m.flagged else ""] for m in result.metrics]


def print_tables(result: Result, title: str, limits: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=max(110, Console().width))
    table = Table(title=escape(title), caption=f"flagged: PSI >= {limits['psi']} beyond its sampling noise, or KS "
                  f"stat >= {limits['ks_statistic']}, at p < {limits['pvalue']} (adjusted)")
    for h in DRIFT_HEAD:
        table.add_column(h, justify="left" if h in ("column", "role", "flag") else "right")
    for d, row in zip(result.drift, drift_rows(result), strict=False):
        table.add_row(*map(escape, row), style="bold red" if d.flagged else None)  # "proba[yes]" is no markup
    console.print(table)
    if result.metrics:
        mt = Table(title="metrics on the labelled batch", caption=f"* watched: degraded when it drops more than {limits['max_drop']}")
        for h in METRIC_HEAD:
            mt.add_column(h, justify="left" if h in ("metric", "flag") else "right")
        for m, row in zip(result.metrics, metric_rows(result), strict=False):
            mt.add_row(*row, style="bold red" if m.flagged else None)
        console.print(mt)


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(folder: Path, result: Result, champion: Champion, ref: Mapping[str, Any], X: Any,
                 input_path: Path, limits: Mapping[str, Any], command: str | None) -> list[Path]:
    """report.md and drift.png (and report.json, the same numbers for machines)."""
    import json
    from dataclasses import asdict

    folder.mkdir(parents=True, exist_ok=True)
    chart = folder / "drift.png"
    plot(chart, result, ref, X, limits)
    parts = [
        f"# Monitoring {champion.name} version {champion.version}",
        "",
        f"- batch: `{input_path}` ({result.n_rows} rows)" + (f"; ignored columns: {', '.join(result.ignored)}" if result.ignored else ""),
        f"- model: `{champion.uri}` (run `{champion.run_id}`)",
        f"- status: **{result.status}**",
        f"- thresholds: {', '.join(f'{k}={v}' for k, v in limits.items())}",
        "",
        "## Drift (features by PSI, then the predicted probabilities and the label)",
        "",
        _md_table(DRIFT_HEAD, drift_rows(result)),
        "",
        "![drift](drift.png)",
    ]
    if result.metrics:
        parts += ["", "## Metrics on the labelled batch vs the logged evaluation (* watched)", "",
                  _md_table(METRIC_HEAD, metric_rows(result))]
    if command:
        parts += ["", "## Retrain the champion's config on this batch", "", "```bash", command, "```"]
    report = folder / "report.md"
    report.write_text("\n".join(parts) + "\n")
    data = {"status": result.status, "model": champion.uri, "run_id": champion.run_id, "input": str(input_path),
            "rows": result.n_rows, "thresholds": dict(limits), "drift": [asdict(d) for d in result.drift],
            "metrics": [asdict(m) for m in result.metrics], "retrain": command}
    as_json = folder / "report.json"
    as_json.write_text(json.dumps(data, indent=1, default=str).replace("NaN", "null"))
    return [report, chart, as_json]


def plot(path: Path, result: Result, ref: Mapping[str, Any], X: Any, limits: Mapping[str, Any]) -> None:
    """PSI per column (threshold line), then reference vs batch distributions of the worst features."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    worst = [d for d in sorted(result.drift, key=lambda d: -d.psi)
             if d.role == "feature" and ref["features"][d.column]["kind"] == "numeric"][: int(limits["worst"])]
    fig, axes = plt.subplots(1, 1 + len(worst), figsize=(4.2 * (1 + len(worst)), 3.8), squeeze=False)
    ax = axes[0][0]
    shown = list(reversed(result.drift))
    ax.barh([d.column for d in shown], [d.psi for d in shown],
            color=["tab:red" if d.flagged else "tab:blue" for d in shown])
    ax.axvline(limits["psi"], color="k", ls="--", lw=1, label=f"PSI {limits['psi']}")
    ax.set_xlabel("population stability index")
    ax.set_title("drift per column (red: flagged)", fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    for ax, d in zip(axes[0][1:], worst, strict=False):
        spec = ref["features"][d.column]
        q = np.asarray(spec["quantiles"], dtype=float)
        ax.plot(q, (np.arange(len(q)) + 0.5) / len(q), label="reference (training)", color="tab:blue")
        x = np.sort(np.asarray(X[d.column], dtype=float))
        ax.plot(x, np.arange(1, len(x) + 1) / len(x), label="batch", color="tab:red" if d.flagged else "tab:orange")
        ax.set_title(f"{d.column}: PSI {d.psi:.2f}, KS {d.ks_statistic:.2f}", fontsize=9)
        ax.set_ylabel("cumulative share")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
