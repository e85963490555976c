"""Why a fitted model decides as it does: permutation feature importance on its held-out split.

`sklearn.inspection.permutation_importance` of the fitted pipeline on the raw input columns, scored on
one of the runner's metrics with its own definition (runner.train.evaluate.score: positive class = the
last label, so text labels work), seeded: the same table each time for the same model and rows.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

N_REPEATS = 5  # shuffles per column
SEED = 0
COLUMNS = ["feature", "importance_mean", "importance_std"]
METHOD = (f"permutation importance (sklearn.inspection.permutation_importance, n_repeats={N_REPEATS}, seed {SEED}) "
          "of the logged model on its held-out split, raw input columns, scored on the ranking metric with the "
          "runner's own scorer: the drop in the metric when a column's values are shuffled")


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
    """permutation_importance of `model` on (X, y) by the runner's scorer: feature, importance_mean, importance_std,
    most important first. `model` is not changed (a single-threaded copy does the hundreds of small predictions)."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(single_threaded(model), X, y, scoring=scorer(metric), n_repeats=n_repeats,
                                    random_state=seed, n_jobs=1)
    table = pd.DataFrame(dict(zip(COLUMNS, ([str(c) for c in X.columns], result.importances_mean,
                                            result.importances_std), strict=True)))
    return table.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)


def single_threaded(model: Any) -> Any:
    """A copy of the fitted model with every `n_jobs` set to 1: the same predictions, without a thread pool's
    start-up on each small predict call (3x faster on a forest). The model itself when it has no params."""
    try:
        keys = [k for k in model.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
    except (AttributeError, TypeError):
        return model
    if not keys:
        return model
    twin = copy.deepcopy(model)
    try:
        twin.set_params(**dict.fromkeys(keys, 1))
    except (ValueError, TypeError):
        return model
    return twin
