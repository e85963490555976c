"""What drove a sweep's results, and why its best models decide as they do.

* Hyperparameters: the numeric params that differ across a sweep's finished jobs, and their importance
  for `optimized_metric`: a small random forest fitted to params -> metric (MLflow's records alone, no
  model is loaded), then `sklearn.inspection.permutation_importance` of that forest on those jobs (the
  drop in R² when one parameter's column is shuffled). Too few jobs to estimate it give a reason instead.
* Features: `permutation_importance` of a job's logged model on its held-out split (rebuilt from the
  run's `resolved_config.yaml`), raw input columns, scored on `optimized_metric` with the runner's own
  scorer (runner.train.evaluate.score: text labels work). Logged to the run as `feature_importance.csv`
  and read back from there next time.
"""
from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)

FEATURE_IMPORTANCE = "feature_importance.csv"  # a job run's artifact: feature, importance_mean, importance_std
N_REPEATS = 5          # permutation_importance's repeats for features
SEED = 0               # every shuffle is seeded: the same table each time a report is built
MIN_JOBS = 8           # fewer finished jobs: the hyperparameter ranking would be noise
HP_REPEATS = 10
HP_TREES = 50

HP_METHOD = (f"permutation importance (sklearn.inspection.permutation_importance, {HP_REPEATS} repeats, seed {SEED}) "
             f"of a random forest ({HP_TREES} trees, min_samples_leaf=2) fitted to the varied hyperparameters → "
             "the ranking metric over the finished jobs: the drop in R² when a parameter's values are shuffled")
FI_METHOD = (f"permutation importance (sklearn.inspection.permutation_importance, n_repeats={N_REPEATS}, seed {SEED}) "
             "of the logged model on its held-out split, raw input columns, scored on the ranking metric with the "
             "runner's own scorer: the drop in the metric when a column's values are shuffled")


# ---------------------------------------------------------------------------------------------- hyperparameters


def _number(v: str | None) -> float | None:
    if v is None:
        return None
    try:
        x = float(v)
    except ValueError:
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def varied_params(runs: Sequence[Run]) -> list[str]:
    """Numeric params every run has that take two values or more across the runs, sorted by name."""
    if len(runs) < 2:
        return []
    keys = set(runs[0].data.params)
    for r in runs[1:]:
        keys &= set(r.data.params)
    out = []
    for k in sorted(keys):
        values = [_number(r.data.params[k]) for r in runs]
        if all(v is not None for v in values) and len(set(values)) > 1 and k != "mlflow.parent_run_id":
            out.append(k)
    return out


def param_table(runs: Sequence[Run], metric_of: Callable[[Run], float]) -> tuple[pd.DataFrame, np.ndarray]:
    """The finished runs' varied numeric params (one column each) and their ranking values (NaN-free)."""
    scored = [r for r in runs if not math.isnan(metric_of(r))]
    params = varied_params(scored)
    table = pd.DataFrame([[float(r.data.params[k]) for k in params] for r in scored], columns=params,
                         index=[r.info.run_id for r in scored])
    return table, np.asarray([metric_of(r) for r in scored], dtype=float)


@dataclass(frozen=True)
class Ranking:
    """Importance per name, best first; or why there is none (`reason`)."""

    table: pd.DataFrame  # name, importance_mean, importance_std
    method: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def hyperparameter_importance(params: pd.DataFrame, values: np.ndarray) -> Ranking:
    """Permutation importance of a small random forest fitted to params -> metric, or why not."""
    empty = pd.DataFrame(columns=["name", "importance_mean", "importance_std"])
    if len(params) < MIN_JOBS:
        return Ranking(empty, HP_METHOD, f"{len(params)} finished jobs with a score: at least {MIN_JOBS} are needed "
                                         "to rank hyperparameters (fewer would show noise)")
    if params.shape[1] == 0:
        return Ranking(empty, HP_METHOD, "no numeric hyperparameter takes two values or more across the finished jobs")
    if np.ptp(values) == 0:
        return Ranking(empty, HP_METHOD, "every finished job has the same score: nothing to explain")
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    forest = RandomForestRegressor(n_estimators=HP_TREES, min_samples_leaf=2, random_state=SEED, n_jobs=1)
    forest.fit(params.to_numpy(), values)
    result = permutation_importance(forest, params.to_numpy(), values, n_repeats=HP_REPEATS, random_state=SEED, n_jobs=1)
    table = pd.DataFrame({"name": params.columns, "importance_mean": result.importances_mean,
                          "importance_std": result.importances_std})
    return Ranking(table.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True), HP_METHOD)


# ---------------------------------------------------------------------------------------------- features


def scorer(metric: str) -> Callable[[Any, pd.DataFrame, Any], float]:
    """`runner.train.evaluate.score(metric, ...)` as a scikit-learn scorer callable (estimator, X, y): the
    runner's definition of that one metric, asking the model only for what it needs (labels or probabilities)."""
    from runner.config.schema import LABEL_METRICS
    from runner.train.evaluate import score

    def by_labels(estimator: Any, X: pd.DataFrame, y: Any) -> float:
        return score(metric, y, estimator.predict(X), None, np.asarray(estimator.classes_))

    def by_probabilities(estimator: Any, X: pd.DataFrame, y: Any) -> float:
        return score(metric, y, None, estimator.predict_proba(X), np.asarray(estimator.classes_))

    return by_labels if metric in LABEL_METRICS else by_probabilities


def permutation_table(model: Any, X: pd.DataFrame, y: Any, metric: str, n_repeats: int = N_REPEATS,
                      seed: int = SEED) -> pd.DataFrame:
    """permutation_importance of `model` on (X, y) by the runner's scorer: feature, importance_mean, importance_std."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(model, X, y, scoring=scorer(metric), n_repeats=n_repeats, random_state=seed, n_jobs=1)
    table = pd.DataFrame({"feature": [str(c) for c in X.columns], "importance_mean": result.importances_mean,
                          "importance_std": result.importances_std})
    return table.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)


def single_threaded(model: Any) -> None:
    """Every `n_jobs` of the loaded model set to 1: the same predictions, without a thread pool's start-up on
    each of the hundreds of small predict calls permutation importance makes (3x faster on a forest)."""
    try:
        keys = [k for k in model.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
        model.set_params(**dict.fromkeys(keys, 1))
    except (AttributeError, ValueError, TypeError):
        pass


class NotAvailable(Exception):
    """A job's feature importance cannot be computed (said in one line on the page)."""


def held_out(client: MlflowClient, run: Run) -> tuple[pd.DataFrame, pd.Series]:
    """The run's held-out split, rebuilt from its logged resolved_config.yaml (checked against its data digest)."""
    from mlflow.exceptions import MlflowException
    from omegaconf import OmegaConf

    from runner.errors import UserError
    from runner.train import data

    with tempfile.TemporaryDirectory(prefix="runner-importance-") as tmp:
        try:
            path = client.download_artifacts(run.info.run_id, names.RESOLVED_CONFIG, tmp)
        except (MlflowException, OSError):
            raise NotAvailable(f"run has no {names.RESOLVED_CONFIG}") from None
        cfg = OmegaConf.load(path)
    try:
        preprocess = OmegaConf.select(cfg, "preprocess.kind", default="none")
        split = data.load_split(cfg.dataset, str(preprocess))
    except (UserError, OSError, ValueError) as e:
        raise NotAvailable(f"its data could not be loaded again: {e}") from None
    logged = run.data.tags.get(names.DATA_DIGEST)
    if logged and logged != split.digest:
        raise NotAvailable("its data changed since the run (the data digest differs)")
    return split.X_test, split.y_test


def logged(client: MlflowClient, run_id: str) -> pd.DataFrame | None:
    """The run's feature_importance.csv, when it already has one."""
    from mlflow.exceptions import MlflowException

    if not any(f.path == FEATURE_IMPORTANCE for f in client.list_artifacts(run_id)):
        return None
    with tempfile.TemporaryDirectory(prefix="runner-importance-") as tmp:
        try:
            return pd.read_csv(client.download_artifacts(run_id, FEATURE_IMPORTANCE, tmp))
        except (MlflowException, OSError, ValueError):
            return None


def feature_importance(client: MlflowClient, run: Run, metric: str, log_it: bool = True) -> pd.DataFrame:
    """The run's permutation feature importance: read back when logged, else computed (and logged with `log_it`).

    Raises NotAvailable with the reason when there is no model, config or data to compute it from.
    """
    run_id = run.info.run_id
    known = logged(client, run_id)
    if known is not None:
        return known
    uri = run.data.tags.get(names.MODEL_URI)
    if not uri:
        raise NotAvailable("run logged no model")
    X, y = held_out(client, run)
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(client.tracking_uri)  # models:/m-<id> resolves in the run's own store
    try:
        model = mlflow.sklearn.load_model(uri)
    except (MlflowException, OSError) as e:
        raise NotAvailable(f"its model could not be loaded: {str(e).rstrip('.')}") from None
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets it
    single_threaded(model)
    table = permutation_table(model, X, y, metric)
    if log_it:
        with tempfile.TemporaryDirectory(prefix="runner-importance-") as tmp:
            path = Path(tmp) / FEATURE_IMPORTANCE
            table.to_csv(path, index=False)
            try:
                client.log_artifact(run_id, str(path))
            except Exception as e:  # noqa: BLE001 - the page still shows it; the next report tries again
                log.warning("feature importance of run %s not logged: %s", run_id, e)
    return table
