"""Repeated stratified k-fold cross-validation of a job's pipeline on its training split (`eval=cv`).

scikit-learn's `cross_validate` clones the whole pipeline for every fold, so the sampler resamples
that fold's training rows only and never sees its validation fold (nor the held-out split, which is
not passed in). Every fold is scored with runner.train.evaluate's own definitions. The interval of a
mean over folds uses the corrected resampled t of Nadeau and Bengio (folds share training rows, so
the plain standard error is far too small).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold scores of one pipeline (fold index = position in RepeatedStratifiedKFold's order)."""

    folds: int
    repeats: int
    n_train: int  # training rows of one fold (the mean over folds, rounded)
    n_test: int   # validation rows of one fold
    per_fold: dict[str, np.ndarray]

    def summary(self, confidence: float) -> dict[str, float]:
        """`cv_M_mean`, `cv_M_std` (ddof=1), `cv_M_ci_low`, `cv_M_ci_high` for every metric M."""
        from runner.train.uncertainty import corrected_interval

        out: dict[str, float] = {}
        for name, values in self.per_fold.items():
            low, high = corrected_interval(values.tolist(), self.n_train, self.n_test, confidence)
            out[f"cv_{name}_mean"] = float(np.mean(values))
            out[f"cv_{name}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
            out[f"cv_{name}_ci_low"], out[f"cv_{name}_ci_high"] = low, high
        return out

    def table(self) -> pd.DataFrame:
        """One row per fold: `fold`, `repeat`, `split` (the fold within its repeat) and every metric."""
        n = len(next(iter(self.per_fold.values())))
        frame = pd.DataFrame({"fold": np.arange(n), "repeat": np.arange(n) // self.folds,
                              "split": np.arange(n) % self.folds})
        for name, values in self.per_fold.items():
            frame[name] = values
        return frame


def splitter(folds: int, repeats: int, seed: int) -> Any:
    """The folds every job with the same data, split and seed shares (so their folds can be paired)."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    return RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)


def parallel_folds(estimator_threads: int, budget: int) -> int:
    """Folds fitted at once so that folds x each estimator's threads stay within the job's thread budget."""
    return max(1, budget // max(1, estimator_threads))


def estimator_threads(pipeline: Any) -> int:
    """Threads one fit of the pipeline's model and sampler uses (their `n_jobs`, 1 when unset)."""
    most = 1
    for _, step in pipeline.steps:
        n = getattr(step, "n_jobs", None) if step != "passthrough" else None
        if isinstance(n, int) and n > 0:
            most = max(most, n)
    return most


def cross_validate(pipeline: Any, X: pd.DataFrame, y: pd.Series, folds: int, repeats: int, seed: int,
                   n_jobs: int = 1) -> CrossValidation:
    """Score clones of `pipeline` on every fold of the training rows `X`, `y`."""
    from sklearn.model_selection import cross_validate as sk_cross_validate

    from runner.train.evaluate import scores

    classes = np.unique(np.asarray(y))

    def scorer(estimator: Any, X_fold: Any, y_fold: Any) -> dict[str, float]:
        return scores(y_fold, estimator.predict(X_fold), estimator.predict_proba(X_fold), classes)

    cv = splitter(folds, repeats, seed)
    result = sk_cross_validate(pipeline, X, y, cv=cv, scoring=scorer, n_jobs=n_jobs, error_score="raise")
    per_fold = {k.removeprefix("test_"): np.asarray(v, dtype=float) for k, v in result.items() if k.startswith("test_")}
    n_test = round(len(y) / folds)
    return CrossValidation(folds, repeats, len(y) - n_test, n_test, per_fold)
