"""Datasets (runner.train.data): config -> features and target -> the stratified held-out split, as scikit-learn makes them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.datasets import load_iris, make_classification
from sklearn.model_selection import train_test_split

from helpers import compose
from runner.errors import UserError
from runner.train import data


def test_synthetic_data_is_make_classification_with_the_configs_parameters() -> None:
    cfg = compose(["dataset.n_samples=250", "seed=9"]).dataset
    X, y = data.load(cfg)
    X_ref, y_ref = make_classification(n_samples=250, n_features=10, n_informative=2, n_redundant=8,
                                       weights=[0.9, 0.1], flip_y=0, random_state=9)
    np.testing.assert_array_equal(X.to_numpy(), X_ref)
    np.testing.assert_array_equal(y.to_numpy(), y_ref)
    assert list(X.columns) == [f"x{i}" for i in range(10)] and y.name == data.TARGET


def test_iris_is_sklearns_bundled_data_with_plain_column_names() -> None:
    X, y = data.load(compose(["dataset=iris"]).dataset)
    bunch = load_iris()
    np.testing.assert_array_equal(X.to_numpy(), bunch.data)
    np.testing.assert_array_equal(y.to_numpy(), bunch.target)
    assert list(X.columns) == ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_the_split_is_sklearns_stratified_split() -> None:
    cfg = compose(["dataset.n_samples=300", "dataset.test_size=0.25", "seed=4"]).dataset
    split = data.load_split(cfg)
    X, y = data.load(cfg)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=4)
    pd.testing.assert_frame_equal(split.X_train, X_tr)
    pd.testing.assert_frame_equal(split.X_test, X_te)
    pd.testing.assert_series_equal(split.y_test, y_te)
    assert split.digest == data.digest(X, y)
    assert split.binary and split.n_classes == 2 and list(split.classes) == [0, 1]
    iris = data.load_split(compose(["dataset=iris"]).dataset)
    assert not iris.binary and iris.n_classes == 3


def test_the_digest_covers_every_row_the_column_names_and_types() -> None:
    X, y = make_classification(n_samples=20_000, n_features=4, random_state=0)
    X, y = pd.DataFrame(X, columns=list("abcd")), pd.Series(y)
    base = data.digest(X, y)
    assert base == data.digest(X.copy(), y.copy()) and len(base) == 32
    late = X.copy()
    late.iloc[-1, 0] += 1e-9  # beyond the 10,000 rows MLflow's own digest reads
    changed_label = y.copy()
    changed_label.iloc[15_000] = 1 - changed_label.iloc[15_000]
    others = {data.digest(late, y), data.digest(X.rename(columns={"a": "z"}), y), data.digest(X, changed_label),
              data.digest(X.astype({"a": "float32"}), y)}
    assert base not in others and len(others) == 4


@pytest.mark.parametrize("cfg, message", [
    ({"kind": "sql", "name": "x"}, "dataset.kind='sql' is not known; allowed: csv, iris, synthetic"),
    ({"kind": "iris", "name": "iris", "test_size": 0.3, "n_samples": 10},
     "dataset=iris takes no parameters besides ['kind', 'name', 'random_state', 'test_size']; got ['n_samples']"),
    ({"kind": "synthetic", "name": "s", "test_size": 0.3, "n_samples": 100, "n_features": 3, "n_informative": 5,
      "weights": None}, "dataset: make_classification refused"),
    ({"kind": "synthetic", "name": "s", "test_size": 0.3, "n_samples": 100, "n_features": 5, "colour": "red",
      "weights": None}, "dataset: make_classification refused"),
])
def test_configs_the_loaders_cannot_use_are_one_line(cfg: dict, message: str) -> None:
    with pytest.raises(UserError) as e:
        data.load(OmegaConf.create(cfg))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
