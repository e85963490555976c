"""The pipeline's first step: how a dataset's columns become the model's numbers (`preprocess`).

`preprocess=none`: numbers and booleans pass as they are, text columns are one-hot encoded (unknown
categories at predict time are ignored). `standard` / `robust`: numbers are median-imputed, then
scaled (StandardScaler / RobustScaler); text is most-frequent-imputed, then one-hot encoded. Because
this happens inside the logged pipeline, the registered model takes a file's raw rows, empty cells
included when it imputes.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def text_columns(X: pd.DataFrame) -> list[str]:
    """Columns that are neither numbers nor booleans."""
    return [str(c) for c, dt in X.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt))]


PREPROCESS = ("none", "standard", "robust")


def missing_as_nan(X: Any) -> Any:
    """Text cells that are None or empty (JSON null, an empty CSV cell) as NaN, which the imputer fills."""
    frame = pd.DataFrame(X).astype(object)
    return frame.mask(frame.isna() | (frame.astype(str).apply(lambda c: c.str.strip()) == ""), np.nan)


def imputes(kind: str) -> bool:
    """Whether a `preprocess` option fills missing values (so the data and the model may have empty cells)."""
    return kind in ("standard", "robust")


def step(X: pd.DataFrame, by_name: bool = False, preprocess: str = "none") -> Any:
    """"passthrough" for all-numeric data without preprocessing, else a ColumnTransformer selecting columns
    by name.

    `by_name=True` (a user's file) always selects by name, so rows with extra columns or another
    column order still work.
    """
    text = text_columns(X)
    if not text and not by_name and preprocess == "none":
        return "passthrough"
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler, StandardScaler

    numbers = [str(c) for c in X.columns if str(c) not in text]
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    parts: list[tuple[str, Any, list[str]]] = []
    if numbers:
        scaler = {"standard": StandardScaler, "robust": RobustScaler}.get(preprocess)
        numeric: Any = "passthrough" if scaler is None else make_pipeline(SimpleImputer(strategy="median"), scaler())
        parts.append(("numbers", numeric, numbers))
    if text:
        textual: Any = encoder if preprocess == "none" else make_pipeline(
            FunctionTransformer(missing_as_nan, feature_names_out="one-to-one"),
            SimpleImputer(strategy="most_frequent", missing_values=np.nan), encoder)
        parts.append(("text", textual, text))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
