"""Monitor a batch against a registered model's reference profile: drift, degradation, what next.

    python -m runner.monitor --model models:/<name>@champion --input batch.csv [--target y]

Per feature and for the predicted probabilities: the population stability index (PSI) on the
training deciles and scipy's two-sample Kolmogorov–Smirnov statistic against the profile's quantile
sketch (p-value with the real reference size, Bonferroni-adjusted). With labels: the model's metrics
on the batch (`runner.evaluate.scores`) against the ones logged at training time.

Exit codes: 0 within thresholds; 3 drift or degradation crosses a threshold (and the retraining
command is printed); 2 a bad batch, model or option (one line, nothing logged). Each successful
check logs a run to the experiment `<name>-monitoring` and tags the model version with its status.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from runner.errors import UserError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_FLAGGED = 0, 2, 3
THRESHOLDS_FILE = Path(__file__).resolve().parent.parent / "conf" / "monitor.yaml"
DEFAULTS: dict[str, Any] = {"psi": 0.2, "pvalue": 0.01, "ks_statistic": 0.1, "max_drop": 0.1,
                            "metrics": None, "min_rows": 30, "worst": 3}
TAG_PREFIX = "monitor."


@dataclass
class Drift:
    """One monitored column (a feature, a predicted probability or the label)."""

    column: str
    role: str  # feature | prediction | label
    psi: float
    psi_noise: float = math.nan  # the PSI sampling noise alone exceeds with probability `pvalue` (adjusted)
    ks_statistic: float = math.nan
    ks_pvalue: float = math.nan  # Bonferroni-adjusted
    ref_mean: float = math.nan
    cur_mean: float = math.nan
    flagged: bool = False
    sizes: tuple = (0, 0, 0)  # (bins, reference rows, batch rows) for the PSI noise bound


@dataclass
class Degradation:
    metric: str
    logged: float
    current: float
    watched: bool
    flagged: bool

    @property
    def change(self) -> float:
        return self.current - self.logged


@dataclass
class Champion:
    name: str
    version: str
    run_id: str
    uri: str
    run: Any


@dataclass
class Result:
    drift: list[Drift]
    metrics: list[Degradation] = field(default_factory=list)
    n_rows: int = 0
    ignored: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[Drift]:
        return [d for d in self.drift if d.flagged]

    @property
    def degraded(self) -> list[Degradation]:
        return [m for m in self.metrics if m.flagged]

    @property
    def status(self) -> str:
        parts = [p for p, on in (("drift", self.drifted), ("degraded", self.degraded)) if on]
        return "+".join(parts) or "ok"


# ---------------------------------------------------------------- thresholds


def thresholds(path: Path = THRESHOLDS_FILE, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """conf/monitor.yaml (DEFAULTS when absent), then `key=value` overrides; unknown keys refused."""
    from omegaconf import OmegaConf

    out = dict(DEFAULTS)
    if path.exists():
        out.update(OmegaConf.to_container(OmegaConf.load(path)) or {})
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in DEFAULTS:
            raise UserError(f"--set {item}: expected key=value with key one of {', '.join(DEFAULTS)}")
        out[key] = OmegaConf.from_dotlist([f"v={value}"]).v
    for key in ("psi", "pvalue", "ks_statistic", "max_drop", "min_rows", "worst"):
        if not isinstance(out[key], (int, float)) or isinstance(out[key], bool) or out[key] < 0:
            raise UserError(f"threshold {key}={out[key]!r}: must be a non-negative number")
    metrics = out["metrics"]
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if metrics is not None:
        metrics = [str(m) for m in (OmegaConf.to_container(metrics) if OmegaConf.is_config(metrics) else metrics)]
        from runner.evaluate import MAIN_METRICS

        unknown = [m for m in metrics if m not in MAIN_METRICS]
        if unknown:
            raise UserError(f"threshold metrics={metrics}: {', '.join(unknown)} unknown; allowed: {', '.join(MAIN_METRICS)}")
    out["metrics"] = metrics
    out["min_rows"], out["worst"] = int(out["min_rows"]), int(out["worst"])
    return out


# ---------------------------------------------------------------- the model and its profile


def resolve(client: Any, model_uri: str) -> Champion:
    """`models:/<name>@<alias>` or `models:/<name>/<version>` -> the version and the run that trained it."""
    from mlflow.exceptions import MlflowException

    if not model_uri.startswith("models:/") or model_uri.startswith("models:/m-"):
        raise UserError(f"--model {model_uri}: expected a registered model, models:/<name>@<alias> or models:/<name>/<version>")
    rest = model_uri[len("models:/"):]
    try:
        if "@" in rest:
            name, alias = rest.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
        else:
            name, _, version = rest.rpartition("/")
            mv = client.get_model_version(name, version)
    except MlflowException as e:
        raise UserError(f"--model {model_uri}: not found in {client.tracking_uri} ({e.error_code})") from None
    if not mv.run_id:
        raise UserError(f"--model {model_uri}: version {mv.version} has no source run, so no reference profile")
    run = client.get_run(mv.run_id)
    return Champion(mv.name, str(mv.version), mv.run_id, f"models:/{mv.name}/{mv.version}", run)


def reference(client: Any, champion: Champion) -> Mapping[str, Any]:
    """The reference profile logged by the run that trained the version."""
    from mlflow.exceptions import MlflowException

    from runner import profile

    with tempfile.TemporaryDirectory(prefix="runner-monitor-") as tmp:
        try:
            path = client.download_artifacts(champion.run_id, profile.FILE, tmp)
        except (MlflowException, OSError):
            raise UserError(
                f"{champion.name} version {champion.version}: run {champion.run_id} has no {profile.FILE} "
                f"(trained before profiles were recorded); retrain it with: python -m runner.rerun {champion.run_id}"
            ) from None
        return profile.load(path)


# ---------------------------------------------------------------- the batch


def read_batch(path: Path, ref: Mapping[str, Any], target: Optional[str], min_rows: int) -> tuple[Any, Any, list[str]]:
    """The batch's features (the model's columns, typed) and labels; a bad batch is one UserError."""
    import pandas as pd

    if not path.is_file():
        raise UserError(f"--input {path}: no such file")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserError(f"--input {path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise UserError(f"--input {path}: not a readable CSV file ({str(e).splitlines()[0]})") from None
    if df.empty:
        raise UserError(f"--input {path}: no rows (columns: {', '.join(map(str, df.columns))})")
    features = list(ref["features"])
    wanted = features + ([target] if target else [])
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        what = "column" if len(missing) == 1 else "columns"
        raise UserError(f"--input {path}: missing {what} {', '.join(missing)} (the model needs {', '.join(features)}"
                        + (f"; --target {target}" if target else "") + ")")
    if len(df) < min_rows:
        raise UserError(f"--input {path}: {len(df)} rows; at least min_rows={min_rows} are needed for drift statistics")
    X = df[features].copy()
    for col in features:
        spec = ref["features"][col]
        if spec["kind"] != "numeric":
            continue
        values = pd.to_numeric(X[col], errors="coerce")
        bad = X[col][values.isna() & X[col].notna()]
        if len(bad):
            raise UserError(f"--input {path}: column {col} has non-numeric values such as {bad.iloc[0]!r} "
                            f"({len(bad)} rows); the model expects numbers")
        if values.isna().any() and not spec.get("missing"):
            raise UserError(f"--input {path}: column {col} has {int(values.isna().sum())} empty values; "
                            "the model was trained without missing values")
        integral = str(spec.get("dtype", "")).startswith(("int", "uint")) and values.notna().all() \
            and bool((values % 1 == 0).all())
        X[col] = values.astype(spec["dtype"] if integral else float)  # the training column's type when it fits
    y = None
    if target:
        y = _labels(df[target], ref["target"]["classes"], path, target)
    ignored = [str(c) for c in df.columns if c not in wanted]
    return X, y, ignored


def _labels(col: Any, classes: list, path: Path, target: str) -> Any:
    """The label column in the model's class type; unknown or empty labels refused."""
    import pandas as pd

    if col.isna().any():
        raise UserError(f"--input {path}: --target {target} has {int(col.isna().sum())} empty labels")
    known = {str(c): c for c in classes}
    text = col.map(lambda v: str(int(v)) if isinstance(v, float) and float(v).is_integer() else str(v))
    unknown = sorted(set(text) - set(known))
    if unknown:
        raise UserError(f"--input {path}: --target {target} has labels {', '.join(unknown[:5])} that the model "
                        f"does not know (its classes: {', '.join(known)})")
    return pd.Series([known[t] for t in text], name=target)


# ---------------------------------------------------------------- statistics


SMOOTHING = 0.5  # pseudo-count per bin (Jeffreys): an empty bin of a small batch is not a huge PSI


def psi(ref_fractions: Sequence[float], cur_fractions: Sequence[float], n_ref: int, n_cur: int) -> float:
    """Population stability index sum (cur - ref) * ln(cur / ref) on counts smoothed by SMOOTHING.

    Smoothing instead of a tiny floor keeps PSI's noise close to its chi-square approximation,
    which `psi_noise` relies on (measured in benchmarks/profile_cost.py).
    """
    r, c = np.asarray(ref_fractions, dtype=float), np.asarray(cur_fractions, dtype=float)
    r = (r * n_ref + SMOOTHING) / (n_ref + SMOOTHING * len(r))
    c = (c * n_cur + SMOOTHING) / (n_cur + SMOOTHING * len(c))
    return float(np.sum((c - r) * np.log(c / r)))


def ks(spec: Mapping[str, Any], values: np.ndarray) -> tuple[float, float]:
    """KS statistic against the quantile sketch, p-value for the real reference size (scipy's asymptotic form)."""
    from scipy import stats

    quantiles = np.asarray(spec["quantiles"], dtype=float)
    d = float(stats.ks_2samp(quantiles, values).statistic)
    n, m = int(spec["n"]), len(values)
    p = float(stats.kstwo.sf(d, max(1, round(n * m / (n + m)))))
    return d, p


def numeric_drift(column: str, role: str, spec: Mapping[str, Any], values: Any) -> Drift:
    from runner.profile import bin_fractions

    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    cur = bin_fractions(x, spec["edges"])
    d, p = ks(spec, x)
    out = Drift(column, role, psi(spec["fractions"], cur, int(spec["n"]), len(x)), ks_statistic=d, ks_pvalue=p,
                ref_mean=float(spec["mean"]), cur_mean=float(x.mean()))
    out.sizes = (len(cur), int(spec["n"]), len(x))
    return out


def categorical_drift(column: str, spec: Mapping[str, Any], values: Any) -> Drift:
    import pandas as pd

    present = pd.Series(values).astype("string").dropna()
    shares = present.value_counts(normalize=True)
    cats = list(spec["categories"])
    ref = [spec["categories"][c] for c in cats] + [spec["other"]]
    cur = [float(shares.get(c, 0.0)) for c in cats] + [float(shares[~shares.index.isin(cats)].sum())]
    out = Drift(column, "feature", psi(ref, cur, int(spec["n"]), len(present)))
    out.sizes = (len(cur), int(spec["n"]), len(present))
    return out


def psi_noise(bins: int, n_ref: int, n_cur: int, alpha: float) -> float:
    """The PSI that sampling noise alone exceeds with probability `alpha`.

    For two samples of one distribution, PSI ~ (1/n_ref + 1/n_cur) * chi2(bins - 1) (it is close to
    the chi-square distance); small batches make large PSIs by chance, so a PSI counts only beyond this.
    """
    from scipy import stats

    if bins < 2 or n_ref < 1 or n_cur < 1:
        return math.inf
    return float(stats.chi2.isf(alpha, bins - 1) * (1 / n_ref + 1 / n_cur))


def flag(drift: list[Drift], limits: Mapping[str, Any]) -> None:
    """A column drifts when a shift is both large and significant (Bonferroni over the columns):
    PSI >= psi beyond its noise bound, or KS statistic >= ks_statistic with its p-value < pvalue."""
    alpha = limits["pvalue"] / max(1, len(drift))
    tested = sum(not math.isnan(d.ks_pvalue) for d in drift)
    for d in drift:
        d.psi_noise = psi_noise(*d.sizes, alpha)
        if not math.isnan(d.ks_pvalue):
            d.ks_pvalue = min(1.0, d.ks_pvalue * tested)
        by_ks = d.ks_pvalue < limits["pvalue"] and d.ks_statistic >= limits["ks_statistic"]
        by_psi = d.psi >= limits["psi"] and d.psi > d.psi_noise
        d.flagged = bool(by_psi or by_ks)


def assess(ref: Mapping[str, Any], X: Any, y: Any, model: Any, logged: Mapping[str, float],
           limits: Mapping[str, Any], watched: Sequence[str]) -> Result:
    """Every drift statistic, and the metrics on the batch when it has labels."""
    from runner import evaluate, profile

    drift = []
    for col, spec in ref["features"].items():
        if spec["kind"] == "numeric" and spec.get("n"):
            drift.append(numeric_drift(col, "feature", spec, X[col]))
        elif spec["kind"] == "categorical":
            drift.append(categorical_drift(col, spec, X[col]))
    proba = model.predict_proba(X)
    classes = np.asarray(model.classes_)
    for col, values in profile.probability_columns(proba, classes).items():
        drift.append(numeric_drift(col, "prediction", ref["prediction"]["columns"][col], values))
    if y is not None:
        shares = profile.class_shares(y, classes)
        ref_shares = [ref["target"]["shares"].get(str(c), 0.0) for c in classes]
        label = Drift(f"label ({y.name})", "label",
                      psi(ref_shares, [shares[str(c)] for c in classes], int(ref["n_train"]), len(y)),
                      ref_mean=ref_shares[-1], cur_mean=shares[str(classes[-1])])
        label.sizes = (len(classes), int(ref["n_train"]), len(y))
        drift.append(label)
    flag(drift, limits)
    order = {"feature": 0, "prediction": 1, "label": 2}
    drift.sort(key=lambda d: (order[d.role], -d.psi))
    result = Result(drift, n_rows=len(X))
    if y is not None:
        y_pred = model.predict(X)
        now = evaluate.scores(y, y_pred, proba, classes)
        for name in evaluate.MAIN_METRICS:
            if name in now and name in logged:
                on = name in watched
                flagged = on and logged[name] - now[name] > limits["max_drop"]
                result.metrics.append(Degradation(name, float(logged[name]), float(now[name]), on, bool(flagged)))
    return result


# ---------------------------------------------------------------- output


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
    for d, row in zip(result.drift, drift_rows(result)):
        table.add_row(*map(escape, row), style="bold red" if d.flagged else None)  # "proba[yes]" is no markup
    console.print(table)
    if result.metrics:
        mt = Table(title="metrics on the labelled batch", caption=f"* watched: degraded when it drops more than {limits['max_drop']}")
        for h in METRIC_HEAD:
            mt.add_column(h, justify="left" if h in ("metric", "flag") else "right")
        for m, row in zip(result.metrics, metric_rows(result)):
            mt.add_row(*row, style="bold red" if m.flagged else None)
        console.print(mt)


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(folder: Path, result: Result, champion: Champion, ref: Mapping[str, Any], X: Any,
                 input_path: Path, limits: Mapping[str, Any], command: Optional[str]) -> list[Path]:
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
    for ax, d in zip(axes[0][1:], worst):
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


# ---------------------------------------------------------------- retraining command


def _override_value(v: Any) -> str:
    """A value in Hydra's override grammar."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_override_value(x) for x in v) + "]"
    s = str(v)
    if s and all(ch.isalnum() or ch in "._-/:" for ch in s) and s not in ("null", "true", "false"):
        return s
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _option(group: str, node: Mapping[str, Any], hint: str) -> str:
    """The conf/<group>/ option whose `_target_` matches (the run's tag first)."""
    from omegaconf import OmegaConf

    from runner.identity import CONF_DIR

    target = node.get("_target_")
    options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
    for name in [hint] + options:
        path = CONF_DIR / group / f"{name}.yaml"
        if path.exists() and OmegaConf.load(path).get("_target_") == target:
            return name
    raise UserError(f"{group}._target_={target}: no conf/{group}/ option builds it; cannot write the retraining command")


def retrain_command(resolved: Mapping[str, Any], tags: Mapping[str, str], name: str, data_path: Path,
                    target: Optional[str], ignored: Sequence[str] = ()) -> str:
    """`python run.py dataset=csv ...` that trains the champion's exact model and sampler on the batch.

    The group choices are found by `_target_`; every model/sampler value that differs from that
    option's composed default (an experiment overlay's, a shell override's) becomes an override.
    """
    from omegaconf import OmegaConf

    from runner import config
    from runner.identity import CONF_DIR

    model = _option("model", resolved["model"], tags.get("runner.model", ""))
    sampler = _option("sampler", resolved["sampler"], tags.get("runner.sampler", ""))
    top = [f"seed={resolved.get('seed', 42)}", f"optimized_metric={resolved.get('optimized_metric', 'f1')}"]
    from hydra import compose, initialize_config_dir

    config.register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        base = compose(config_name="config", overrides=[f"model={model}", f"sampler={sampler}", *top])
    base = OmegaConf.to_container(base, resolve=True)
    args = ["dataset=csv", f"dataset.path={data_path.resolve()}", f"dataset.target={target or '<label column>'}",
            f"model={model}", f"sampler={sampler}"]
    if ignored:  # columns the champion does not use stay out of the challenger too
        args.insert(3, f"dataset.drop={_override_value(list(ignored))}")
    for group in ("model", "sampler"):
        have, default = resolved[group] or {}, base[group] or {}
        for key, value in have.items():
            if key == "n_jobs" or (key in default and default[key] == value):
                continue
            args.append(f"{'' if key in default else '+'}{group}.{key}={_override_value(value)}")
    args.append(f"seed={_override_value(resolved.get('seed', 42))}")
    if resolved.get("optimized_metric", "f1") != "f1":
        args.append(f"optimized_metric={resolved['optimized_metric']}")
    args += ["registry.register=true", f"registry.name={name}"]
    return "python run.py " + " ".join(shlex.quote(a) for a in args)


# ---------------------------------------------------------------- tracking


def log_monitoring(client: Any, uri: str, champion: Champion, result: Result, limits: Mapping[str, Any],
                   input_path: Path, files: list[Path]) -> str:
    """The monitoring run in `<name>-monitoring`, and the version's latest status tags."""
    from runner import store, tracking

    experiment_id = store.prepare(uri, f"{champion.name}-monitoring")
    tags = {"runner.monitor.model_name": champion.name, "runner.monitor.model_version": champion.version,
            "runner.monitor.model_run_id": champion.run_id, "runner.monitor.status": result.status,
            "runner.monitor.input": str(input_path),
            "runner.monitor.flagged": ",".join(d.column for d in result.drifted)[:5000]}
    run = client.create_run(experiment_id, run_name=f"{champion.name} v{champion.version} {input_path.name}", tags=tags)
    run_id = run.info.run_id
    try:
        metrics: dict[str, float] = {"rows": result.n_rows, "drifted_columns": len(result.drifted),
                                     "degraded_metrics": len(result.degraded)}
        for d in result.drift:
            key = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in d.column)
            metrics[f"psi.{key}"] = d.psi
            if not math.isnan(d.ks_statistic):
                metrics[f"ks_statistic.{key}"] = d.ks_statistic
                metrics[f"ks_pvalue.{key}"] = d.ks_pvalue
        for m in result.metrics:
            metrics[f"batch.{m.metric}"] = m.current
            metrics[f"change.{m.metric}"] = m.change
        params = {"model_uri": champion.uri, "input": str(input_path), **{f"threshold.{k}": str(v) for k, v in limits.items()}}
        tracking.log_job(client, run_id, params, metrics, {})
        for path in files:
            client.log_artifact(run_id, str(path))
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for key, value in {"status": result.status, "run_id": run_id, "checked_at": now, "input": str(input_path)}.items():
        client.set_model_version_tag(champion.name, champion.version, TAG_PREFIX + key, value)
    return run_id


# ---------------------------------------------------------------- command line


def parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m runner.monitor",
        description="Compare a batch with a registered model's reference profile (drift, degradation).",
        epilog="exit codes: 0 within thresholds, 3 drift or degradation flagged, 2 error (bad batch, model or option)",
    )
    p.add_argument("--model", required=True, help="models:/<name>@<alias> or models:/<name>/<version>")
    p.add_argument("--input", required=True, type=Path, help="the batch, a CSV file with the model's feature columns")
    p.add_argument("--target", help="the label column, when the batch is labelled")
    p.add_argument("--output", type=Path, help="report folder (default outputs/monitoring/<name>-v<version>-<time>)")
    p.add_argument("--thresholds", type=Path, default=THRESHOLDS_FILE, help="thresholds YAML (default conf/monitor.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one threshold")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one check; returns the exit code."""
    import os

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    args = parse(argv)
    try:
        return check(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR


def check(args: argparse.Namespace) -> int:
    import mlflow

    from runner import store

    limits = thresholds(args.thresholds, args.set)
    uri = store.resolve_uri(None)
    client = mlflow.MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    champion = resolve(client, args.model)
    ref = reference(client, champion)
    X, y, ignored = read_batch(args.input, ref, args.target, int(limits["min_rows"]))
    model = mlflow.sklearn.load_model(champion.uri)
    logged = dict(champion.run.data.metrics)
    watched = limits["metrics"] or [champion.run.data.params.get("optimized_metric", "f1"), "roc_auc"]
    unknown = [m for m in watched if m not in logged]
    if unknown and limits["metrics"]:
        raise UserError(f"threshold metrics={watched}: {', '.join(unknown)} not logged by run {champion.run_id}")
    result = assess(ref, X, y, model, logged, limits, watched)
    result.ignored = ignored

    command = None
    if result.status != "ok":
        resolved = _resolved_config(client, champion.run_id)
        command = retrain_command(resolved, champion.run.data.tags, champion.name, args.input, args.target, ignored)
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    folder = args.output or Path("outputs") / "monitoring" / f"{champion.name}-v{champion.version}-{stamp}"
    files = write_report(folder, result, champion, ref, X, args.input.resolve(), limits, command)
    title = f"{champion.name} v{champion.version} on {args.input.name} ({result.n_rows} rows): {result.status}"
    print_tables(result, title, limits)
    run_id = log_monitoring(client, uri, champion, result, limits, args.input.resolve(), files)
    print(f"report: {folder / 'report.md'}, {folder / 'drift.png'}; monitoring run {run_id}; "
          f"{champion.name} version {champion.version} tagged {TAG_PREFIX}status={result.status}")
    if result.status == "ok":
        return EXIT_OK
    why = [f"drift in {', '.join(d.column for d in result.drifted)}"] if result.drifted else []
    why += [f"{m.metric} {m.logged:.3f} -> {m.current:.3f}" for m in result.degraded]
    print(f"FLAGGED ({'; '.join(why)}).", file=sys.stderr)
    if args.target:
        print("Retrain the champion's config on this labelled batch (its winner then goes through the promotion gate):")
    else:
        print("Label this batch, then retrain the champion's config on it (its winner then goes through the promotion gate):")
    print(command)
    return EXIT_FLAGGED


def _resolved_config(client: Any, run_id: str) -> Mapping[str, Any]:
    from omegaconf import OmegaConf

    with tempfile.TemporaryDirectory(prefix="runner-monitor-") as tmp:
        path = client.download_artifacts(run_id, "resolved_config.yaml", tmp)
        return OmegaConf.to_container(OmegaConf.load(path))


if __name__ == "__main__":
    from runner import shutdown

    shutdown.run(main)
