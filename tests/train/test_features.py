"""The pipeline's first step (runner.train.features): numbers pass, text is one-hot encoded by scikit-learn."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder

from runner.train import features


def mixed() -> pd.DataFrame:
    return pd.DataFrame({"tenure": [1, 5, 9, 2], "contract": ["month", "year", "month", "two-year"],
                         "charges": [9.5, 20.0, 31.25, 4.0], "paperless": [True, False, True, True],
                         "payment": pd.Series(["card", "bank", "card", "card"], dtype="string")})


def test_text_columns_are_those_neither_numbers_nor_booleans() -> None:
    assert features.text_columns(mixed()) == ["contract", "payment"]
    assert features.text_columns(mixed()[["tenure", "paperless"]]) == []


def test_all_numeric_data_passes_through_unless_selected_by_name() -> None:
    numeric = mixed()[["tenure", "charges"]]
    assert features.step(numeric) == "passthrough"
    by_name = features.step(numeric, by_name=True).fit(numeric)
    shuffled = numeric.assign(extra=1)[["extra", "charges", "tenure"]]  # another order, an extra column
    np.testing.assert_array_equal(by_name.transform(shuffled), numeric.to_numpy(dtype=float))


def test_text_is_one_hot_encoded_as_sklearn_does_and_unknown_categories_are_ignored() -> None:
    X = mixed()
    step = features.step(X).fit(X)
    text = ["contract", "payment"]
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(X[text])
    expected = np.hstack([X[["tenure", "charges", "paperless"]].to_numpy(dtype=float), encoder.transform(X[text])])
    np.testing.assert_array_equal(step.transform(X), expected)
    assert list(step.get_feature_names_out()) == ["tenure", "charges", "paperless", *encoder.get_feature_names_out()]
    unseen = X.head(1).assign(contract="weekly")
    row = step.transform(unseen)[0]
    assert row[3:6].sum() == 0 and row[:3].tolist() == [1.0, 9.5, 1.0]  # no contract column lit, numbers kept


def test_a_text_only_frame_has_no_numbers_part() -> None:
    X = mixed()[["contract"]]
    step = features.step(X)
    assert [name for name, _, _ in step.transformers] == ["text"]
    assert step.fit_transform(X).shape == (4, 3)
