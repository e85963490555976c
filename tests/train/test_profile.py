"""The reference profile a job records (runner.train.profile): numpy's quantiles, pandas' shares, a compact JSON file."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from runner.train import evaluate, profile


def test_sorted_quantiles_are_numpys_linear_quantiles() -> None:
    x = np.sort(np.random.default_rng(0).lognormal(size=1001))
    probs = (np.arange(profile.QUANTILES) + 0.5) / profile.QUANTILES
    np.testing.assert_allclose(profile.sorted_quantiles(x, probs), np.quantile(x, probs), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(profile.sorted_quantiles(np.array([4.0]), np.array([0.1, 0.9])), [4.0, 4.0])


def test_a_numeric_summary_has_the_sketch_the_deciles_histogram_and_moments() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(3, 2, size=5000)
    x[:50] = np.nan
    s = profile.numeric_summary(x)
    present = x[~np.isnan(x)]
    assert s["n"] == 4950 and s["missing"] == 0.01
    assert math.isclose(s["mean"], present.mean(), rel_tol=1e-7) and math.isclose(s["std"], present.std(), rel_tol=1e-7)
    assert (s["min"], s["max"]) == (float(f"{present.min():.8g}"), float(f"{present.max():.8g}"))
    np.testing.assert_allclose(s["edges"], np.quantile(present, np.arange(1, 10) / 10), rtol=1e-7)
    expected = np.histogram(present, bins=[-np.inf, *np.quantile(present, np.arange(1, 10) / 10), np.inf])[0] / 4950
    np.testing.assert_allclose(s["fractions"], expected, atol=1e-3)  # right- vs left-closed bins differ by a row
    assert len(s["quantiles"]) == profile.QUANTILES and s["quantiles"] == sorted(s["quantiles"])


def test_bins_are_right_closed() -> None:
    np.testing.assert_array_equal(profile.bin_fractions(np.array([0.0, 1.0, 1.5, 2.0, 9.0]), [1.0, 2.0]), [0.4, 0.4, 0.2])
    np.testing.assert_array_equal(profile.bin_fractions(np.array([]), [1.0]), [0.0, 0.0])


def test_edge_cases_of_a_numeric_column() -> None:
    assert profile.numeric_summary([np.nan, np.nan]) == {"kind": "numeric", "n": 0, "missing": 1.0}
    assert profile.numeric_summary([]) == {"kind": "numeric", "n": 0, "missing": 0.0}
    constant = profile.numeric_summary(np.full(100, 7.0))
    assert constant["edges"] == [7.0] and constant["fractions"] == [1.0, 0.0]  # repeated deciles collapse
    assert profile._num(float("inf")) is None and profile._num(1 / 3) == 0.33333333


def test_a_categorical_summary_keeps_the_top_categories_and_pools_the_rest() -> None:
    values = pd.Series([f"c{i}" for i in range(30) for _ in range(30 - i)] + [None] * 5)
    s = profile.categorical_summary(values)
    shares = values.dropna().value_counts(normalize=True)
    assert s["n"] == len(values) - 5 and s["missing"] == float(f"{5 / len(values):.8g}")
    assert list(s["categories"]) == [f"c{i}" for i in range(profile.TOP_CATEGORIES)]
    assert s["categories"]["c0"] == float(f"{shares['c0']:.8g}")
    assert math.isclose(s["other"], shares.iloc[profile.TOP_CATEGORIES:].sum(), rel_tol=1e-7)


def test_summary_picks_by_type() -> None:
    assert profile.summary(pd.Series([True, False, True]))["kind"] == "numeric"
    assert profile.summary(pd.Series([1, 2, 3]))["mean"] == 2.0
    assert profile.summary(pd.Series(["a", "b"]))["kind"] == "categorical"


def test_probability_columns_and_class_shares() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert list(profile.probability_columns(proba, ["no", "yes"])) == ["proba[yes]"]
    np.testing.assert_array_equal(profile.probability_columns(proba, ["no", "yes"])["proba[yes]"], [0.1, 0.8])
    three = np.eye(3)
    assert list(profile.probability_columns(three, [0, 1, 2])) == ["proba[0]", "proba[1]", "proba[2]"]
    assert profile.class_shares([1, 1, 0, 1], [0, 1, 2]) == {"0": 0.25, "1": 0.75, "2": 0.0}


def test_a_written_profile_loads_back_and_other_formats_are_refused(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.assign(kind=np.where(X.index % 2, "odd", "even"))
    numeric = X.drop(columns=["kind"])
    ev = evaluate.evaluate(LogisticRegression(max_iter=500).fit(numeric, y), numeric, y)
    path = profile.write(tmp_path, X, y, ev)
    assert path == tmp_path / profile.FILE
    loaded = profile.load(path)
    assert loaded == json.loads(path.read_text()) and loaded["format"] == profile.FORMAT
    third = 0.33333333  # 8 significant digits
    assert loaded["n_train"] == 150 and loaded["target"] == {"classes": [0, 1, 2], "shares": {"0": third, "1": third, "2": third}}
    assert loaded["features"]["kind"]["kind"] == "categorical" and loaded["features"]["kind"]["dtype"] in ("object", "str")
    assert list(loaded["prediction"]["columns"]) == ["proba[0]", "proba[1]", "proba[2]"]
    other = tmp_path / "old.json"
    other.write_text(json.dumps({**loaded, "format": 0}))
    with pytest.raises(ValueError, match="reference profile format 0, expected 1"):
        profile.load(other)
