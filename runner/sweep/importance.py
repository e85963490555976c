"""What drove a sweep's results, and why its best models decide as they do.

* Hyperparameters: the numeric params that differ across a sweep's finished jobs, and their importance
  for `optimized_metric`: a small random forest fitted to params -> metric (MLflow's records alone, no
  model is loaded), then `sklearn.inspection.permutation_importance` of that forest on those jobs (the
  drop in R² when one parameter's column is shuffled). Too few jobs to estimate it give a reason instead.
* Features: the permutation importance of a job's logged model on its held-out split (runner.train.explain,
  read back or computed by runner.job.explain: logged to the run as `feature_importance.csv`).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from runner.job.explain import NotAvailable, feature_importance
from runner.track import names
from runner.train import explain

if TYPE_CHECKING:
    from mlflow.entities import Run

log = logging.getLogger(__name__)

FEATURE_IMPORTANCE = names.FEATURE_IMPORTANCE
FI_METHOD = explain.METHOD
SEED = 0               # every shuffle is seeded: the same ranking each time a report is built
MIN_JOBS = 8           # fewer finished jobs: the hyperparameter ranking would be noise
HP_REPEATS = 10
HP_TREES = 50

HP_METHOD = (f"permutation importance (sklearn.inspection.permutation_importance, {HP_REPEATS} repeats, seed {SEED}) "
             f"of a random forest ({HP_TREES} trees, min_samples_leaf=2) fitted to the varied hyperparameters → "
             "the ranking metric over the finished jobs: the drop in R² when a parameter's values are shuffled")

__all__ = ["FEATURE_IMPORTANCE", "FI_METHOD", "HP_METHOD", "NotAvailable", "Ranking", "feature_importance",
           "hyperparameter_importance", "param_table", "varied_params"]

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
