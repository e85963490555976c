"""Bootstrap and corrected-t uncertainty: scikit-learn (through the runner's own ``scores``) is the oracle."""
from __future__ import annotations

import importlib
import math
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from runner.train import uncertainty as unc
from runner.train.uncertainty import (
    bootstrap_intervals,
    corrected_interval,
    corrected_resampled_t,
    holm,
    metric_samples,
    paired_bootstrap,
    row_weights,
    stratified_indices,
)

pytestmark = pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")

Case = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _load_scores() -> Callable[..., dict[str, float]]:
    """The runner's point estimates, wherever the restructuring has put them."""
    error: ImportError | None = None
    for module in ("runner.evaluate", "runner.train.evaluate"):
        try:
            return importlib.import_module(module).scores
        except ImportError as exc:
            error = exc
    raise AssertionError(f"runner's scores() not importable: {error}")


scores = _load_scores()


def _binary(rng: np.random.Generator, n: int = 150, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < 0.3).astype(int)
    s = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    if decimals is not None:
        s = np.round(s, decimals)
    return y, np.c_[1 - s, s]


def _multiclass(rng: np.random.Generator, y: np.ndarray, k: int = 3) -> np.ndarray:
    raw = rng.dirichlet(np.ones(k), y.size) + 0.8 * np.eye(k)[y]
    proba = np.round(raw / raw.sum(axis=1, keepdims=True), 2)  # rounding leaves ties
    return proba / proba.sum(axis=1, keepdims=True)


def _case(name: str) -> Case:
    rng = np.random.default_rng(7)
    if name in ("binary_int", "binary_text", "binary_bool", "no_positive", "ties"):
        y, proba = _binary(rng, decimals=1 if name == "ties" else None)
        pred = (proba[:, 1] >= 0.5).astype(int)
        if name == "no_positive":
            pred = np.zeros_like(y)
        if name == "binary_text":
            labels = np.array(["no", "yes"])
            return labels[y], labels[pred], proba, labels
        if name == "binary_bool":
            return y.astype(bool), pred.astype(bool), proba, np.array([False, True])
        return y, pred, proba, np.array([0, 1])
    if name == "multiclass":
        y = rng.integers(0, 3, 150)
        proba = _multiclass(rng, y)
        return y, proba.argmax(axis=1), proba, np.array([0, 1, 2])
    if name == "multiclass_text_absent":
        # The model knows "c", y_true never holds it, yet some rows are predicted "c".
        labels = np.array(["a", "b", "c"])
        y = rng.integers(0, 2, 150)
        proba = _multiclass(rng, y)
        pred = proba.argmax(axis=1)
        pred[rng.random(y.size) < 0.05] = 2
        return labels[y], labels[pred], proba, labels
    raise ValueError(name)


CASES = ["binary_int", "binary_text", "binary_bool", "no_positive", "ties", "multiclass", "multiclass_text_absent"]


def _assert_matches(samples: dict[str, np.ndarray], row: int, expected: dict[str, float]) -> None:
    assert list(samples) == list(expected)
    for name, value in expected.items():
        assert samples[name][row] == pytest.approx(value, abs=1e-12, rel=0), name


@pytest.mark.parametrize("name", CASES)
def test_unit_weights_reproduce_point_estimates(name: str) -> None:
    y, pred, proba, classes = _case(name)
    samples = metric_samples(y, pred, proba, classes, np.ones((1, y.size)))
    _assert_matches(samples, 0, scores(y, pred, proba, classes))


def test_no_positive_prediction_scores_zero() -> None:
    y, pred, proba, classes = _case("no_positive")
    samples = metric_samples(y, pred, proba, classes, np.ones((1, y.size)))
    assert samples["precision"][0] == samples["recall"][0] == samples["f1"][0] == 0.0


@pytest.mark.parametrize("name", CASES)
def test_stratified_resamples_match_sklearn(name: str) -> None:
    y, pred, proba, classes = _case(name)
    idx = stratified_indices(y, 20, seed=3)
    samples = metric_samples(y, pred, proba, classes, row_weights(idx, y.size))
    for r in range(idx.shape[0]):
        rows = idx[r]
        _assert_matches(samples, r, scores(y[rows], pred[rows], proba[rows], classes))


@pytest.mark.parametrize("name", ["binary_int", "no_positive", "multiclass_text_absent"])
def test_unstratified_resamples_match_sklearn_label_metrics(name: str) -> None:
    # Plain bootstrap rows can lose predicted and true labels: the macro averages must follow sklearn's label set.
    y, pred, proba, classes = _case(name)
    idx = np.random.default_rng(5).integers(0, y.size, size=(20, y.size))
    names = list(unc._LABEL_METRICS)
    samples = metric_samples(y, pred, None, classes, row_weights(idx, y.size), metrics=names)
    for r in range(idx.shape[0]):
        rows = idx[r]
        expected = scores(y[rows], pred[rows], proba[rows], classes)
        _assert_matches(samples, r, {k: expected[k] for k in names})


def test_metric_selection() -> None:
    y, pred, proba, classes = _case("multiclass_text_absent")
    assert list(metric_samples(y, pred, proba, classes, np.ones(y.size))) == list(unc._LABEL_METRICS)
    with pytest.raises(ValueError, match="roc_auc"):
        metric_samples(y, pred, proba, classes, np.ones(y.size), metrics=["roc_auc"])
    y, pred, proba, classes = _case("multiclass")
    with pytest.raises(ValueError, match="average_precision"):
        metric_samples(y, pred, proba, classes, np.ones(y.size), metrics=["average_precision"])
    with pytest.raises(ValueError, match="unknown metric"):
        metric_samples(y, pred, proba, classes, np.ones(y.size), metrics=["auc"])
    with pytest.raises(ValueError, match="not in classes"):
        metric_samples(y, pred, proba, np.array([0, 1, 5]), np.ones(y.size))
    only = metric_samples(y, pred, proba, classes, np.ones((2, y.size)), metrics=["roc_auc", "accuracy"])
    assert list(only) == ["roc_auc", "accuracy"] and only["accuracy"].shape == (2,)


def test_stratified_indices_keep_class_counts_and_are_reproducible() -> None:
    y = np.array(["b"] * 7 + ["a"] * 30 + ["c"] * 3)
    idx = stratified_indices(y, 50, seed=11)
    assert idx.shape == (50, y.size) and np.issubdtype(idx.dtype, np.integer)
    assert (y[idx] == y).all()  # column i is always drawn from the class of row i
    assert len({tuple(row) for row in idx}) > 1
    np.testing.assert_array_equal(idx, stratified_indices(y, 50, seed=11))
    assert not np.array_equal(idx, stratified_indices(y, 50, seed=12))


def test_row_weights_are_multiplicities() -> None:
    idx = np.array([[0, 0, 2, 3], [3, 3, 3, 3]])
    np.testing.assert_array_equal(row_weights(idx, 5), [[2, 0, 1, 1, 0], [0, 0, 0, 4, 0]])
    with pytest.raises(ValueError):
        row_weights(np.array([[0, 5]]), 5)


@pytest.mark.parametrize("name", ["ties", "multiclass"])
def test_intervals_are_percentiles_of_the_stratified_samples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    y, pred, proba, classes = _case(name)

    def samples_and_check() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        idx = stratified_indices(y, 200, seed=4)
        samples = metric_samples(y, pred, proba, classes, row_weights(idx, y.size))
        expected = {k: (float(np.quantile(v, 0.05)), float(np.quantile(v, 0.95))) for k, v in samples.items()}
        got = bootstrap_intervals(y, pred, proba, classes, n_resamples=200, confidence=0.9, seed=4)
        assert got.keys() == expected.keys()
        for k in expected:  # sums of floats (the calibration metrics) may differ in the last bit by grouping
            np.testing.assert_allclose(got[k], expected[k], rtol=0, atol=1e-14)
        return idx, samples

    idx, samples = samples_and_check()
    # Several index blocks and several chunks per block: still the percentiles of the same resamples.
    monkeypatch.setattr(unc, "_INDEX_BLOCK_ENTRIES", 40 * y.size)
    monkeypatch.setattr(unc, "_MAX_CHUNK_FLOATS", 7 * 5 * y.size)
    samples_and_check()
    chunked = metric_samples(y, pred, proba, classes, row_weights(idx, y.size))
    for k, values in samples.items():
        np.testing.assert_allclose(chunked[k], values, rtol=0, atol=1e-14)


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=4000, weights=[0.9, 0.1], flip_y=0.02, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X[:700], y[:700])
    return {"model": model, "X": X[700:], "y": y[700:]}


def _held_out(fitted: dict[str, Any], n: int) -> Case:
    model, X, y = fitted["model"], fitted["X"][:n], fitted["y"][:n]
    return y, model.predict(X), model.predict_proba(X), np.asarray(model.classes_)


def test_intervals_contain_the_point_estimate_and_narrow_with_more_rows(fitted: dict[str, Any]) -> None:
    widths = {}
    for n in (300, 3000):
        y, pred, proba, classes = _held_out(fitted, n)
        point = scores(y, pred, proba, classes)
        intervals = bootstrap_intervals(y, pred, proba, classes, n_resamples=500, seed=1)
        assert intervals.keys() == point.keys()
        for name, (low, high) in intervals.items():
            assert low <= point[name] <= high, (n, name)
        widths[n] = {name: high - low for name, (low, high) in intervals.items()}
    for name in widths[300]:
        assert widths[3000][name] < 0.7 * widths[300][name], name


def test_paired_bootstrap_identical_models(fitted: dict[str, Any]) -> None:
    y, pred, proba, classes = _held_out(fitted, 300)
    result = paired_bootstrap(y, (pred, proba), (pred.copy(), proba.copy()), classes, "roc_auc", n_resamples=200)
    assert (result.delta, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)
    assert result.p_value == 1.0
    assert (result.n_rows, result.n_resamples) == (300, 200)


def test_paired_bootstrap_better_model(fitted: dict[str, Any]) -> None:
    y, pred, proba, classes = _held_out(fitted, 300)
    rng = np.random.default_rng(0)
    noisy = np.clip(proba[:, 1] + rng.normal(0, 0.3, y.size), 0, 1)
    a = (classes[(noisy >= 0.5).astype(int)], np.c_[1 - noisy, noisy])
    point = scores(y, a[0], a[1], classes)["f1"], scores(y, pred, proba, classes)["f1"]
    result = paired_bootstrap(y, a, (pred, proba), classes, "f1", n_resamples=500, seed=2)
    assert result.delta == pytest.approx(point[1] - point[0], abs=1e-12)
    assert result.delta > 0 and result.ci_low <= result.delta <= result.ci_high
    assert result.p_value < 0.05
    reverse = paired_bootstrap(y, (pred, proba), a, classes, "f1", n_resamples=500, seed=2)
    assert reverse.delta == -result.delta and reverse.p_value > 0.9
    demanding = paired_bootstrap(y, a, (pred, proba), classes, "f1", n_resamples=500, seed=2, min_delta=result.delta)
    assert demanding.p_value > result.p_value


def test_paired_bootstrap_p_value_is_never_zero(fitted: dict[str, Any]) -> None:
    y, pred, proba, classes = _held_out(fitted, 300)
    perfect = np.eye(2)[y]
    result = paired_bootstrap(y, (pred, proba), (y, perfect), classes, "accuracy", n_resamples=99, seed=0)
    assert result.ci_low > 0
    assert result.p_value == 1 / 100  # every difference > 0, plus the +1 correction


def test_corrected_resampled_t_against_hand_computation() -> None:
    from scipy import stats

    diffs = [0.012, 0.020, -0.004, 0.015, 0.031, 0.002, 0.010, 0.024, 0.006, 0.018]
    n_train, n_test = 900, 100
    j = len(diffs)
    mean = statistics.fmean(diffs)
    se = math.sqrt((1 / j + n_test / n_train) * statistics.variance(diffs))
    t = mean / se
    q = stats.t.ppf(0.975, j - 1)
    result = corrected_resampled_t(diffs, n_train, n_test)
    assert result.mean == pytest.approx(mean, rel=1e-12)
    assert result.t == pytest.approx(t, rel=1e-12)
    assert result.p_value_one_sided == pytest.approx(1 - stats.t.cdf(t, j - 1), rel=1e-9)
    assert result.p_value_two_sided == pytest.approx(2 * (1 - stats.t.cdf(abs(t), j - 1)), rel=1e-9)
    assert (result.ci_low, result.ci_high) == pytest.approx((mean - q * se, mean + q * se), rel=1e-12)
    # The correction widens the naive interval: se_naive = sqrt(var / J).
    assert result.ci_high - result.ci_low > 2 * q * math.sqrt(statistics.variance(diffs) / j)
    flipped = corrected_resampled_t([-d for d in diffs], n_train, n_test)
    assert flipped.p_value_one_sided == pytest.approx(1 - result.p_value_one_sided, rel=1e-9)
    assert corrected_interval([0.8 + d for d in diffs], n_train, n_test) == pytest.approx(
        (0.8 + mean - q * se, 0.8 + mean + q * se), rel=1e-12
    )


def test_corrected_resampled_t_zero_variance() -> None:
    up = corrected_resampled_t([0.1] * 5, 80, 20)
    assert (up.mean, up.ci_low, up.ci_high) == (pytest.approx(0.1),) * 3
    assert up.t == math.inf and up.p_value_one_sided == 0.0 and up.p_value_two_sided == 0.0
    down = corrected_resampled_t([-0.1] * 5, 80, 20)
    assert down.t == -math.inf and down.p_value_one_sided == 1.0 and down.p_value_two_sided == 0.0
    flat = corrected_resampled_t([0.0] * 5, 80, 20)
    assert math.isnan(flat.t) and flat.p_value_one_sided == flat.p_value_two_sided == 1.0
    assert corrected_interval([0.7] * 4, 80, 20) == (pytest.approx(0.7), pytest.approx(0.7))
    with pytest.raises(ValueError):
        corrected_resampled_t([0.1], 80, 20)


def test_holm_against_hand_worked_example() -> None:
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> 0.06 (monotone step-down).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([0.2]) == [0.2]
    assert holm([]) == []
    with pytest.raises(ValueError):
        holm([0.1, 1.5])


def test_resample_weights_drawn_once_are_the_same_as_drawn_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kept between calls (a leaderboard tests ~100 jobs on one held-out set): the same numbers as drawing them
    anew, and read-only, so no caller can change another's resamples."""
    y, pred, proba, classes = _case("ties")
    kept = paired_bootstrap(y, (pred, proba), (np.roll(pred, 1), proba), classes, "f1", n_resamples=300, seed=5)
    blocks = unc._kept_weights_t(tuple(int(m.size) for m in unc._strata(y)), 300, 5, unc._INDEX_BLOCK_ENTRIES)
    assert blocks and not any(b.flags.writeable for b in blocks)
    monkeypatch.setattr(unc, "_KEPT_ENTRIES", 0)  # every call draws its own
    drawn = paired_bootstrap(y, (pred, proba), (np.roll(pred, 1), proba), classes, "f1", n_resamples=300, seed=5)
    assert kept == drawn
