"""`report.html`: a sweep's (or an experiment's) leaderboard, curves and importances in one offline file.

Built from MLflow alone (the rows of runner.sweep.leaderboard, the runs' params and metrics, the logged
`predictions/holdout.parquet` and models), so `python -m runner.review --html FILE` rebuilds it anywhere.

The page makes no network request: styles, the sorting script and every chart are inline, and a
Content-Security-Policy meta tag forbids loading anything (`default-src 'none'`; inline styles, the one
script by its hash, `data:` images). It opens from an e-mail attachment or an artifact download offline.

Charts are inline SVG written by matplotlib with its text kept as text (`svg.fonttype: none`): a chart
of a few curves is 15-40 KB of markup that stays sharp at any zoom and prints, where a PNG of the same
chart is larger once base64-encoded (data: URIs grow by a third) and blurs. Confusion matrices are plain
HTML tables (a few hundred bytes each).
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import logging
import math
import shlex
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runner.sweep import importance
from runner.sweep.compare import Verdict, note
from runner.sweep.leaderboard import Row, common_overrides, failures, metric_columns, runs_by_id, varying
from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)

TOP = 5  # jobs whose curves, confusion matrices and feature importances are shown
TEMPLATE = "report.html.j2"
SHORT = {"average_precision": "avg_prec", "balanced_accuracy": "bal_acc", "calibration_error": "cal_error"}
CALIBRATION_SHOWN = ("brier_score", "log_loss", "calibration_error")  # lower is better

# The sort script (click a header; again to reverse). Allowed by its hash in the page's CSP, nothing else runs.
SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.tabIndex = 0;
    function sort() {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var numeric = th.dataset.type === "num";
      function key(tr) {
        var cell = tr.cells[col];
        var v = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
        return numeric ? (v === "" ? NaN : parseFloat(v)) : v.toLowerCase();
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (numeric) {
          if (isNaN(x)) { return isNaN(y) ? 0 : 1; }
          if (isNaN(y)) { return -1; }
          return asc ? x - y : y - x;
        }
        return asc ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach(function (tr) { body.appendChild(tr); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
  });
});
"""


def csp(script: str = SORT_JS) -> str:
    """The page's Content-Security-Policy: nothing from anywhere; inline styles, this script, data: images."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


# ---------------------------------------------------------------------------------------------------- reading


def run_link(uri: str | None, experiment_id: str | None, run_id: str) -> str | None:
    """The run's page in the MLflow UI when the store is a tracking server (http(s)), else None."""
    if not uri or not uri.startswith(("http://", "https://")) or not experiment_id:
        return None
    return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


# ---------------------------------------------------------------------------------------------------- charts


def _svg(fig: Any, salt: str) -> str:
    """The figure as inline SVG markup (no XML prolog or DTD), text kept as text, ids unique to this chart."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                                                      "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _figure(width: float = 4.0, height: float = 3.3) -> tuple[Any, Any]:
    """A figure without pyplot (no GUI backend, no global figure registry: nothing to close, faster to import)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")  # one drawing pass (bbox_inches="tight" takes two)
    ax = fig.subplots()
    ax.grid(True, alpha=0.3)
    return fig, ax


@dataclass
class Scored:
    """One top job's held-out predictions, ready for curves."""

    row: Row
    label: str
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray
    classes: np.ndarray

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2


def _scored(client: MlflowClient, rows: list[Row]) -> tuple[list[Scored], list[str]]:
    """The top jobs' predictions (read in place when local, else downloaded together), and what is missing."""
    from runner.track import predictions
    from runner.train.evaluate import PROBA_PREFIX

    out, missing = [], []
    frames = predictions.load_all(client, {r.run_id: r.artifact_uri or None for r in rows})
    for r in rows:
        frame = frames[r.run_id]
        if frame is None:
            missing.append(f"job {r.job} ({r.run_id[:8]}): no {names.HOLDOUT_PREDICTIONS} logged")
            continue
        proba = frame[[c for c in frame.columns if str(c).startswith(PROBA_PREFIX)]].to_numpy(dtype=float)
        out.append(Scored(r, f"#{r.job} {r.model}+{r.sampler}", frame["label"].to_numpy(),
                          frame["prediction"].to_numpy(), proba, predictions.classes_of(frame)))
    return out, missing


def _positive(s: Scored) -> tuple[np.ndarray, np.ndarray, str]:
    """(0/1 truth, score) for the curves: the positive (last) class for binary data, else micro-averaged one-vs-rest."""
    truth = np.asarray([str(v) for v in s.y_true])
    if s.binary:
        return (truth == str(s.classes[-1])).astype(int), s.proba[:, 1], ""
    onehot = np.stack([(truth == str(c)).astype(int) for c in s.classes], axis=1)
    return onehot.ravel(), s.proba.ravel(), " (micro-averaged one-vs-rest)"


def curve_charts(scored: list[Scored]) -> dict[str, str]:
    """Overlaid ROC, precision-recall and (binary) reliability curves of the top jobs, as SVG markup."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    from runner.config.schema import CALIBRATION_BINS
    from runner.train.evaluate import reliability_curve

    if not scored:
        return {}
    charts = {}
    suffix = _positive(scored[0])[2]
    fig, ax = _figure()
    for s in scored:
        y, p, _ = _positive(s)
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, lw=1.4, label=f"{s.label} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC{suffix}", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="lower right")
    charts["roc"] = _svg(fig, "report-roc")

    fig, ax = _figure()
    for s in scored:
        y, p, _ = _positive(s)
        precision, recall, _ = precision_recall_curve(y, p)
        ax.step(recall, precision, where="post", lw=1.4, label=f"{s.label} (AP {_average_precision(y, p):.3f})")
    ax.axhline(float(np.mean(y)), ls=":", color="grey", lw=1)
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision–recall{suffix}", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="lower left")
    charts["pr"] = _svg(fig, "report-pr")

    binary = [s for s in scored if s.binary]
    if binary:
        fig, ax = _figure()
        for s in binary:
            y, p, _ = _positive(s)
            observed, predicted, _ = reliability_curve(y, p, CALIBRATION_BINS)
            ax.plot(predicted, observed, marker="o", ms=3, lw=1.4, label=s.label)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="perfectly calibrated")
        ax.set(xlabel="mean predicted probability (positive class)", ylabel="observed share of positives",
               title=f"Reliability ({CALIBRATION_BINS} equal-width bins)", xlim=(0, 1), ylim=(0, 1.01))
        ax.legend(fontsize=7, loc="upper left")
        charts["reliability"] = _svg(fig, "report-reliability")
    return charts


def _average_precision(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p))


def confusion(s: Scored) -> dict[str, Any]:
    """A confusion matrix as the template's table: classes, counts[true][predicted], the largest count."""
    labels = [str(c) for c in s.classes]
    truth = pd.Categorical([str(v) for v in s.y_true], categories=labels)
    pred = pd.Categorical([str(v) for v in s.y_pred], categories=labels)
    counts = pd.crosstab(truth, pred, dropna=False).reindex(index=labels, columns=labels, fill_value=0).to_numpy()
    return {"label": s.label, "run_id": s.row.run_id, "classes": labels, "counts": counts.tolist(),
            "max": int(counts.max()) if counts.size else 0, "n": int(counts.sum())}


def parallel_coordinates(params: pd.DataFrame, values: np.ndarray, metric: str) -> str:
    """Each finished job as a line across its varied numeric params and the metric (colour: the metric), as SVG."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    columns = [*params.columns, metric]
    table = np.column_stack([params.to_numpy(dtype=float), values])
    low, high = table.min(axis=0), table.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = (table - low) / span
    fig, ax = _figure(width=max(5.0, 1.9 * len(columns)), height=3.4)
    ax.grid(False)
    norm = Normalize(vmin=float(values.min()), vmax=float(values.max()))
    cmap = matplotlib.colormaps["viridis"]
    x = np.arange(len(columns))
    for i in np.argsort(values):  # the best drawn last, on top
        ax.plot(x, scaled[i], color=cmap(norm(values[i])), lw=1.3, alpha=0.85)
    for j in x:
        ax.axvline(j, color="black", lw=0.8)
        ax.text(j + 0.03, 0.0, _short(low[j]), ha="left", va="center", fontsize=7)
        ax.text(j + 0.03, 1.0, _short(high[j]), ha="left", va="center", fontsize=7)
    ax.set_xticks(x, columns, fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.1, len(columns) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric, fraction=0.04, pad=0.02)
    ax.set_title("each line is a finished job; each axis runs from its lowest value (bottom) to its highest (top)",
                 fontsize=8)
    return _svg(fig, "report-parallel")


def _short(v: float) -> str:
    return f"{v:.4g}"


# ---------------------------------------------------------------------------------------------------- the page


@dataclass
class Page:
    """What the template shows."""

    title: str
    metric: str
    generated: str
    source: str
    csp: str
    script: str
    columns: list[dict[str, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    common: str = ""
    notes: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    rerun: list[dict[str, str]] = field(default_factory=list)
    top_n: int = TOP
    top: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, str] = field(default_factory=dict)
    curves_missing: list[str] = field(default_factory=list)
    confusions: list[dict[str, Any]] = field(default_factory=list)
    parallel: str = ""
    varied: list[str] = field(default_factory=list)
    hp: dict[str, Any] = field(default_factory=dict)
    features: list[dict[str, Any]] = field(default_factory=list)
    fi_method: str = importance.FI_METHOD


def _num(v: float | None, digits: int = 4) -> str:
    return "" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _leaderboard(rows: list[Row], runs: dict[str, Run], metric: str, uri: str | None) -> tuple[list[dict[str, str]],
                                                                                               list[dict[str, Any]], str]:
    common = common_overrides(rows)
    others = [m for m in metric_columns(metric) if m != metric and any(m in r.metrics for r in rows)]
    calibration = [m for m in CALIBRATION_SHOWN if any(m in runs[r.run_id].data.metrics for r in rows if r.run_id in runs)]
    columns = [{"key": "rank", "name": "rank", "type": "num"}, {"key": "job", "name": "job", "type": "num"},
               {"key": "model", "name": "model", "type": "text"}, {"key": "sampler", "name": "sampler", "type": "text"}]
    if any(varying(r, common) for r in rows):
        columns.append({"key": "overrides", "name": "overrides", "type": "text"})
    columns.append({"key": "rank_value", "name": f"{metric} [interval]", "type": "num"})
    if any(r.vs_best for r in rows):
        columns.append({"key": "vs_best", "name": "vs best", "type": "text"})
        columns.append({"key": "p", "name": "p (Holm)", "type": "num"})
    columns += [{"key": m, "name": SHORT.get(m, m), "type": "num"} for m in others]
    columns += [{"key": m, "name": f"{SHORT.get(m, m)} ↓", "type": "num"} for m in calibration]
    columns += [{"key": "fit_seconds", "name": "fit s", "type": "num"}, {"key": "status", "name": "status", "type": "text"},
                {"key": "run_id", "name": "run id", "type": "text"}]
    out = []
    for i, r in enumerate(rows, 1):
        run = runs.get(r.run_id)
        logged = run.data.metrics if run else {}
        value = r.rank_value(metric)
        ci = r.rank_interval(metric)
        cells: dict[str, dict[str, str]] = {
            "rank": {"text": str(i), "v": str(i)},
            "job": {"text": str(r.job), "v": str(r.job) if str(r.job).isdigit() else ""},
            "model": {"text": r.model}, "sampler": {"text": r.sampler},
            "overrides": {"text": varying(r, common)},
            "rank_value": {"text": (f"{value:.4f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")) if not math.isnan(value)
                           else "", "v": _num(value, 6)},
            "vs_best": {"text": r.vs_best, "cls": f"mark-{r.vs_best.replace('/', '')}" if r.vs_best else ""},
            "p": {"text": "" if math.isnan(r.p_adjusted) else ("<0.001" if r.p_adjusted < 0.001 else f"{r.p_adjusted:.3f}"),
                  "v": _num(r.p_adjusted, 6)},
            "fit_seconds": {"text": _num(r.fit_seconds, 3), "v": _num(r.fit_seconds, 6)},
            "status": {"text": r.shown_status, "cls": f"status-{r.shown_status.lower()}"},
            "run_id": {"text": r.run_id, "href": run_link(uri, run.info.experiment_id if run else None, r.run_id) or ""},
        }
        for m in others:
            cells[m] = {"text": _num(r.metrics.get(m, math.nan), 3), "v": _num(r.metrics.get(m, math.nan), 6)}
        for m in calibration:
            cells[m] = {"text": _num(logged.get(m, math.nan), 3), "v": _num(logged.get(m, math.nan), 6)}
        out.append({"cells": [cells[c["key"]] for c in columns], "best": r.vs_best == "best"})
    return columns, out, " ".join(common)


def _reruns(client: MlflowClient, bad: list[Row], runs: dict[str, Run]) -> list[dict[str, str]]:
    """The command that re-runs each failed job's sweep (resume trains just the jobs not finished)."""
    from mlflow.exceptions import MlflowException

    out: dict[str, dict[str, str]] = {}
    for r in bad:
        run = runs.get(r.run_id)
        parent_id = run.data.tags.get(names.PARENT) if run else None
        if parent_id:
            if parent_id in out:
                continue
            try:
                parent = client.get_run(parent_id)
            except MlflowException:
                continue
            overrides = parent.data.tags.get(names.OVERRIDES, "")
            command = " ".join(["python run.py -m", *(shlex.quote(o) for o in overrides.split())])
            out[parent_id] = {"command": command, "what": f"sweep {parent_id[:8]}: finished jobs are reused, the failed "
                                                          "and killed ones train again"}
        elif run is not None:
            overrides = run.data.tags.get(names.OVERRIDES, "")
            out[r.run_id] = {"command": " ".join(["python run.py", *(shlex.quote(o) for o in overrides.split())]),
                             "what": f"job run {r.run_id[:8]} (a single run)"}
    return list(out.values())


def _feature_tables(client: MlflowClient, top: list[Row], runs: dict[str, Run], metric: str) -> list[dict[str, Any]]:
    out = []
    for r in top:
        run = runs.get(r.run_id)
        entry: dict[str, Any] = {"label": f"#{r.job} {r.model}+{r.sampler}", "run_id": r.run_id, "rows": [], "reason": ""}
        if run is None:
            entry["reason"] = "run not found"
            out.append(entry)
            continue
        try:
            table = importance.feature_importance(client, run, metric)
        except importance.NotAvailable as e:
            entry["reason"] = str(e)
        except Exception as e:  # noqa: BLE001 - one job's importance never costs the page
            log.warning("feature importance of run %s failed: %s", r.run_id, e)
            entry["reason"] = f"could not be computed: {e}"
        else:
            scale = max(float(table["importance_mean"].abs().max()), 1e-12)
            entry["rows"] = [{"feature": f, "mean": f"{m:+.4f}", "std": f"{s:.4f}", "width": f"{max(m, 0) / scale * 100:.1f}"}
                             for f, m, s in table[["feature", "importance_mean", "importance_std"]].itertuples(index=False)]
        out.append(entry)
    return out


def build(client: MlflowClient, rows: list[Row], metric: str, title: str, top: int = TOP, uri: str | None = None,
          verdict: Verdict | None = None) -> str:
    """The report's HTML for the ranked (and marked) rows."""
    import jinja2

    runs = {r.run_id: r.run for r in rows if r.run is not None}  # read with the rows; rows made by hand: searched
    runs.update(runs_by_id(client, [r.run_id for r in rows if r.run is None]))
    scored_rows = [r for r in rows if r.scored and not math.isnan(r.rank_value(metric))]
    best_rows = scored_rows[:top]
    columns, table, common = _leaderboard(rows, runs, metric, uri)
    page = Page(title=title, metric=metric, generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                source=_redacted(uri) if uri else "", csp=csp(), script=SORT_JS, columns=columns, rows=table,
                common=common, notes=note(rows, metric, verdict), top_n=top)
    bad = failures(rows)
    page.failures = [{"job": str(r.job), "status": r.status, "reason": r.reason or "no reason recorded", "run_id": r.run_id,
                      "href": run_link(uri, runs[r.run_id].info.experiment_id if r.run_id in runs else None, r.run_id) or ""}
                     for r in bad]
    page.rerun = _reruns(client, bad, runs)

    scored, page.curves_missing = _scored(client, best_rows)
    page.curves = curve_charts(scored)
    page.confusions = [confusion(s) for s in scored]
    page.top = [{"label": f"#{r.job} {r.model}+{r.sampler}", "run_id": r.run_id} for r in best_rows]

    finished = [runs[r.run_id] for r in scored_rows if r.run_id in runs]
    value_of = {r.run_id: r.rank_value(metric) for r in scored_rows}
    params, values = importance.param_table(finished, lambda run: value_of[run.info.run_id])
    page.varied = list(params.columns)
    if params.shape[1] and len(params) >= 2:
        page.parallel = parallel_coordinates(params, values, metric)
    ranking = importance.hyperparameter_importance(params, values)
    page.hp = {"method": ranking.method, "reason": ranking.reason,
               "rows": [{"name": n, "mean": f"{m:+.4f}", "std": f"{s:.4f}"}
                        for n, m, s in ranking.table[["name", "importance_mean", "importance_std"]].itertuples(index=False)]}
    page.features = _feature_tables(client, best_rows, runs, metric)

    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(resources.files("runner.sweep").joinpath(TEMPLATE).read_text(encoding="utf-8"))
    return template.render(page=page, markup=_markup)


def _markup(text: str) -> Any:
    """Trusted markup (our own SVG) into the page unescaped."""
    from markupsafe import Markup

    return Markup(text)  # noqa: S704 - matplotlib's SVG of our own figures


def _redacted(uri: str) -> str:
    from runner.track.secrets import redact_text

    return html.unescape(redact_text(uri))


def save(client: MlflowClient, rows: list[Row], metric: str, title: str, path: Path, top: int = TOP,
         uri: str | None = None, verdict: Verdict | None = None) -> Path:
    """Write the report to `path` (its folder created); returns the path."""
    from runner.track.predictions import quiet_downloads

    with quiet_downloads():
        page = build(client, rows, metric, title, top=top, uri=uri, verdict=verdict)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def write(client: MlflowClient, parent_run: Run, rows: list[Row], metric: str, folder: Path, top: int = TOP,
          uri: str | None = None, verdict: Verdict | None = None, title: str | None = None) -> Path:
    """A sweep's report.html in its folder, logged to its parent run beside summary.*; returns the file.

    Never raises: a report that cannot be built is a warning, and the sweep's other files still stand
    (the returned path then does not exist).
    """
    from runner.sweep.leaderboard import sweep_title

    path = Path(folder) / names.REPORT_HTML
    try:
        save(client, rows, metric, title or sweep_title(parent_run, len(rows), metric), path, top=top, uri=uri,
             verdict=verdict)
        client.log_artifact(parent_run.info.run_id, str(path))
    except Exception as e:  # noqa: BLE001 - the leaderboard and summaries matter more than the page
        log.warning("report.html was not written: %s", e)
    return path
