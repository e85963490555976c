"""Monitor a batch against a registered model's reference profile: drift, degradation, what next.

The command line is runner.cli.monitor (`python -m runner.monitor`). Each successful check logs a
run to the experiment `<name>-monitoring` and tags the model version with its status.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.config.schema import CONF_DIR
from runner.errors import UserError
from runner.serve.drift import Result, assess
from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_FLAGGED = 0, 2, 3
THRESHOLDS_FILE = CONF_DIR / "monitor.yaml"
DEFAULTS: dict[str, Any] = {"psi": 0.2, "pvalue": 0.01, "ks_statistic": 0.1, "max_drop": 0.1,
                            "metrics": None, "min_rows": 30, "worst": 3}
TAG_PREFIX = names.MONITOR_PREFIX


@dataclass
class Champion:
    name: str
    version: str
    run_id: str
    uri: str
    run: Run


def thresholds(path: Path = THRESHOLDS_FILE, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """conf/monitor.yaml (DEFAULTS when absent), then `key=value` overrides; unknown keys refused."""
    from omegaconf import OmegaConf

    out = dict(DEFAULTS)
    if path.exists():
        loaded = OmegaConf.to_container(OmegaConf.load(path))
        if isinstance(loaded, dict):
            out.update({str(k): v for k, v in loaded.items()})
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
        listed = OmegaConf.to_container(metrics) if OmegaConf.is_config(metrics) else metrics
        metrics = [str(m) for m in listed or []]
        from runner.config.schema import MAIN_METRICS

        unknown = [m for m in metrics if m not in MAIN_METRICS]
        if unknown:
            raise UserError(f"threshold metrics={metrics}: {', '.join(unknown)} unknown; allowed: {', '.join(MAIN_METRICS)}")
    out["metrics"] = metrics
    out["min_rows"], out["worst"] = int(out["min_rows"]), int(out["worst"])
    return out


def resolve(client: MlflowClient, model_uri: str) -> Champion:
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


def reference(client: MlflowClient, champion: Champion) -> Mapping[str, Any]:
    """The reference profile logged by the run that trained the version."""
    from mlflow.exceptions import MlflowException

    from runner.train import profile

    with tempfile.TemporaryDirectory(prefix="runner-monitor-") as tmp:
        try:
            path = client.download_artifacts(champion.run_id, profile.FILE, tmp)
        except (MlflowException, OSError):
            raise UserError(
                f"{champion.name} version {champion.version}: run {champion.run_id} has no {profile.FILE} "
                f"(trained before profiles were recorded); retrain it with: python -m runner.rerun {champion.run_id}"
            ) from None
        return profile.load(path)


def read_batch(path: Path, ref: Mapping[str, Any], target: str | None, min_rows: int,
               imputes: bool = False) -> tuple[Any, Any, list[str]]:
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
        if values.isna().any() and not spec.get("missing") and not imputes:
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


def _labels(col: Any, classes: list[Any], path: Path, target: str) -> Any:
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


def log_monitoring(client: MlflowClient, uri: str, champion: Champion, result: Result, limits: Mapping[str, Any],
                   input_path: Path, files: list[Path]) -> str:
    """The monitoring run in `<name>-monitoring`, and the version's latest status tags."""
    from runner.track import runs, store

    experiment_id = store.prepare(uri, f"{champion.name}-monitoring")
    p = names.MONITOR_RUN_PREFIX
    tags = {f"{p}model_name": champion.name, f"{p}model_version": champion.version,
            f"{p}model_run_id": champion.run_id, f"{p}status": result.status,
            f"{p}input": str(input_path), f"{p}flagged": ",".join(d.column for d in result.drifted)[:5000]}
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
        runs.log_job(client, run_id, params, metrics, {})
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


def check(args: Any) -> int:
    """One check of `args` (runner.cli.monitor's options); returns the exit code."""
    import mlflow

    from runner.serve.monitor_report import print_tables, write_report
    from runner.serve.retrain import retrain_command
    from runner.track import store

    limits = thresholds(args.thresholds, args.set)
    uri = store.resolve_uri(None)
    client = mlflow.MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    champion = resolve(client, args.model)
    ref = reference(client, champion)
    from runner.train.features import imputes

    fills = imputes(str(champion.run.data.params.get("preprocess.kind", "none")))  # empty cells are fine then
    X, y, ignored = read_batch(args.input, ref, args.target, int(limits["min_rows"]), fills)
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


def _resolved_config(client: MlflowClient, run_id: str) -> Mapping[str, Any]:
    from omegaconf import OmegaConf

    from runner.track import logged

    resolved = OmegaConf.to_container(logged.config(client, run_id))
    assert isinstance(resolved, dict)
    return {str(k): v for k, v in resolved.items()}
