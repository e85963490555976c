"""Drift and degradation statistics (runner.serve.drift): PSI, its noise bound, KS against the sketch (scipy), flags."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from runner.serve import drift, monitor
from runner.train import evaluate, profile


def test_ks_from_the_sketch_matches_scipy_on_every_training_row() -> None:
    rng = np.random.default_rng(5)
    train = rng.lognormal(size=5000)
    spec = profile.numeric_summary(train)
    for shift in (0.0, 0.05, 0.3):
        batch = rng.lognormal(size=800) + shift
        full = stats.ks_2samp(train, batch, method="asymp")
        d, p = drift.ks(spec, batch)
        assert abs(d - full.statistic) <= 1 / profile.QUANTILES
        assert (p < 0.01) == (full.pvalue < 0.01)


def test_psi_counts_only_beyond_its_sampling_noise() -> None:
    limits = monitor.thresholds()
    small = drift.Drift("x", "feature", psi=0.45, sizes=(10, 105, 45))    # chance level for 45 rows
    large = drift.Drift("y", "feature", psi=0.45, sizes=(10, 7000, 3000))  # a real shift
    tiny = drift.Drift("z", "feature", psi=0.05, sizes=(10, 70000, 30000))  # significant but negligible
    drift.flag([small, large, tiny], limits)
    assert (small.flagged, large.flagged, tiny.flagged) == (False, True, False)
    assert small.psi_noise > 0.45 > large.psi_noise


def test_psi_is_the_smoothed_formula() -> None:
    ref, cur = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    r = (ref * 1000 + 0.5) / (1000 + 1.5)
    c = (cur * 200 + 0.5) / (200 + 1.5)
    assert math.isclose(drift.psi(ref, cur, 1000, 200), float(np.sum((c - r) * np.log(c / r))), rel_tol=1e-12)
    assert drift.psi(ref, ref, 1000, 1000) == 0.0
    assert drift.psi([1.0, 0.0], [0.0, 1.0], 50, 50) < math.inf  # an empty bin is no infinite drift


def test_psi_noise_is_the_chi_square_quantile_scaled_by_the_sizes() -> None:
    assert math.isclose(drift.psi_noise(10, 1000, 100, 0.01), stats.chi2.isf(0.01, 9) * (1 / 1000 + 1 / 100))
    assert drift.psi_noise(1, 1000, 100, 0.01) == math.inf and drift.psi_noise(10, 0, 100, 0.01) == math.inf
    # the bound holds: PSIs of samples of one distribution exceed it about alpha of the time
    rng = np.random.default_rng(0)
    ref = rng.normal(size=5000)
    spec = profile.numeric_summary(ref)
    bound = drift.psi_noise(len(spec["fractions"]), 5000, 300, 0.05)
    exceed = np.mean([drift.numeric_drift("x", "feature", spec, rng.normal(size=300)).psi > bound for _ in range(200)])
    assert exceed < 0.15


def test_flag_adjusts_ks_pvalues_for_the_columns_tested() -> None:
    limits = {"psi": 0.2, "pvalue": 0.01, "ks_statistic": 0.1}
    a = drift.Drift("a", "feature", psi=0.0, ks_statistic=0.3, ks_pvalue=0.004, sizes=(10, 1000, 1000))
    b = drift.Drift("b", "feature", psi=0.0, ks_statistic=0.05, ks_pvalue=0.001, sizes=(10, 1000, 1000))
    label = drift.Drift("label (y)", "label", psi=0.0, sizes=(2, 1000, 1000))
    drift.flag([a, b, label], limits)
    assert (a.ks_pvalue, b.ks_pvalue) == (0.008, 0.002) and math.isnan(label.ks_pvalue)
    assert a.flagged and not b.flagged and not label.flagged  # b: significant but small


def test_a_categorical_column_compares_shares_of_the_known_categories_and_the_rest() -> None:
    spec = profile.categorical_summary(["a"] * 60 + ["b"] * 40)
    same = drift.categorical_drift("c", spec, ["a"] * 30 + ["b"] * 20)
    assert same.psi == drift.psi([0.6, 0.4, 0.0], [0.6, 0.4, 0.0], 100, 50) < 0.01 and same.sizes == (3, 100, 50)
    new = drift.categorical_drift("c", spec, ["c"] * 50 + [None] * 3)
    expected = drift.psi([0.6, 0.4, 0.0], [0.0, 0.0, 1.0], 100, 50)
    assert new.psi == expected and new.sizes == (3, 100, 50)


def test_results_status() -> None:
    d = drift.Drift("x", "feature", psi=0.1)
    m = drift.Degradation("f1", logged=0.8, current=0.6, watched=True, flagged=True)
    assert drift.Result([d]).status == "ok"
    assert drift.Result([d], [m]).status == "degraded" and m.change == pytest.approx(-0.2)
    d.flagged = True
    assert drift.Result([d], [m]).status == "drift+degraded" and drift.Result([d]).drifted == [d]


def test_assess_scores_a_labelled_batch_with_sklearns_metrics() -> None:
    X, y = make_classification(n_samples=600, n_features=4, n_informative=3, n_redundant=0, random_state=2)
    X = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    y = pd.Series(y, name="y")
    model = LogisticRegression().fit(X[:400], y[:400])
    ev = evaluate.evaluate(model, X[400:500], y[400:500])
    ref = profile.build(X[:400], y[:400], ev.proba, ev.y_pred, ev.classes)
    batch, labels = X[500:].copy(), y[500:].copy()
    batch["a"] += 3 * batch["a"].std()  # one feature moved
    labels[:] = 1 - labels  # every label flipped
    result = drift.assess(ref, batch, labels, model, ev.metrics, monitor.thresholds(), ["f1"])
    by_column = {d.column: d for d in result.drift}
    assert by_column["a"].flagged and not any(by_column[c].flagged for c in "bcd")
    assert [d.role for d in result.drift][:4] == ["feature"] * 4 and result.drift[0].column == "a"
    assert result.drift[-1].role == "label" and result.drift[-1].column == "label (y)"
    scores = evaluate.scores(labels, model.predict(batch), model.predict_proba(batch), model.classes_)
    metrics = {m.metric: m for m in result.metrics}
    assert metrics["f1"].current == scores["f1"] and metrics["f1"].flagged and metrics["f1"].watched
    assert not metrics["accuracy"].watched and not metrics["accuracy"].flagged
    assert result.status == "drift+degraded" and result.n_rows == 100
    unlabelled = drift.assess(ref, batch, None, model, ev.metrics, monitor.thresholds(), ["f1"])
    assert unlabelled.metrics == [] and unlabelled.drift[-1].role == "prediction"
