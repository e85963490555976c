"""eval=cv: folds on the training split only, the sampler inside each training fold, numbers equal to
scikit-learn's `cross_validate` of the same pipeline on the same splitter."""
from __future__ import annotations

import numpy as np
import pytest
from imblearn.base import BaseSampler
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import make_scorer
from sklearn.model_selection import cross_validate

from helpers import compose
from runner.train import crossval, data, pipeline


def default_job(*overrides: str):
    cfg = compose(["model=logreg", "sampler=smote", *overrides])
    split = data.load_split(cfg.dataset)
    return cfg, split, pipeline.build(cfg, "passthrough", split.classes)


def test_cv_scores_equal_sklearns_cross_validate_on_the_same_splitter() -> None:
    cfg, split, pipe = default_job()
    ours = crossval.cross_validate(pipe, split.X_train, split.y_train, folds=5, repeats=2, seed=cfg.seed)
    from sklearn import metrics as m

    pos = split.classes[-1]
    scoring = {
        "accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy",
        "precision": make_scorer(m.precision_score, pos_label=pos, zero_division=0),
        "recall": make_scorer(m.recall_score, pos_label=pos, zero_division=0),
        "f1": make_scorer(m.f1_score, pos_label=pos, zero_division=0),
        "f1_macro": make_scorer(m.f1_score, average="macro", zero_division=0),
        "roc_auc": "roc_auc", "average_precision": "average_precision",
        "brier_score": make_scorer(m.brier_score_loss, response_method="predict_proba"),
        "log_loss": make_scorer(m.log_loss, response_method="predict_proba"),
    }
    theirs = cross_validate(pipe, split.X_train, split.y_train, cv=crossval.splitter(5, 2, cfg.seed), scoring=scoring)
    assert set(ours.per_fold) == {*scoring, "calibration_error"}
    for name in scoring:
        assert len(ours.per_fold[name]) == 10
        np.testing.assert_allclose(ours.per_fold[name], theirs[f"test_{name}"], rtol=0, atol=1e-9)
    summary = ours.summary(0.95)
    assert summary["cv_f1_mean"] == pytest.approx(float(np.mean(theirs["test_f1"])), abs=1e-12)
    assert summary["cv_f1_std"] == pytest.approx(float(np.std(theirs["test_f1"], ddof=1)), abs=1e-12)
    assert summary["cv_f1_ci_low"] < summary["cv_f1_mean"] < summary["cv_f1_ci_high"]
    table = ours.table()
    assert list(table["repeat"]) == [0] * 5 + [1] * 5 and list(table["split"]) == list(range(5)) * 2


class RecordingSampler(BaseSampler):
    """Resamples nothing; records the index of every row it is asked to resample."""

    _sampling_type = "bypass"
    _parameter_constraints: dict = {}
    seen: list[np.ndarray] = []

    def __init__(self) -> None:
        super().__init__()
        self.sampling_strategy = "auto"

    def fit_resample(self, X, y, **params):
        RecordingSampler.seen.append(np.asarray(X.index))  # the pipeline hands the fold's rows as they are
        return X, y

    def _fit_resample(self, X, y):  # pragma: no cover - fit_resample is overridden
        return X, y


def test_the_sampler_never_sees_a_validation_fold_or_the_held_out_split() -> None:
    cfg = compose([])
    split = data.load_split(cfg.dataset)
    RecordingSampler.seen = []
    pipe = Pipeline([("sampler", RecordingSampler()), ("model", LogisticRegression(max_iter=1000))])
    crossval.cross_validate(pipe, split.X_train, split.y_train, folds=5, repeats=2, seed=cfg.seed)
    assert len(RecordingSampler.seen) == 10
    held_out = set(split.X_test.index)
    folds = list(crossval.splitter(5, 2, cfg.seed).split(split.X_train, split.y_train))
    for seen, (train_idx, test_idx) in zip(RecordingSampler.seen, folds, strict=True):
        assert not set(seen) & held_out
        assert not set(seen) & set(split.X_train.index[test_idx])  # the fold's validation rows
        assert set(seen) == set(split.X_train.index[train_idx])


def test_folds_run_in_parallel_within_the_thread_budget() -> None:
    _, _, pipe = default_job("model=rf", "model.n_jobs=2")
    assert crossval.estimator_threads(pipe) == 2
    assert crossval.parallel_folds(2, budget=2) == 1
    assert crossval.parallel_folds(1, budget=4) == 4
    assert crossval.parallel_folds(8, budget=2) == 1
