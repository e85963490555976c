"""The pipeline's first step: how a dataset's columns become the model's numbers.

Numbers and booleans pass as they are; text columns are one-hot encoded (unknown categories at
predict time are ignored). Because this happens inside the logged pipeline, the registered model
takes a file's raw rows.
"""
from __future__ import annotations

from typing import Any

import pandas as pd


def text_columns(X: pd.DataFrame) -> list[str]:
    """Columns that are neither numbers nor booleans."""
    return [str(c) for c, dt in X.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt))]


def step(X: pd.DataFrame, by_name: bool = False) -> Any:
    """"passthrough" for all-numeric data, else a ColumnTransformer selecting columns by name.

    `by_name=True` (a user's file) always selects by name, so rows with extra columns or another
    column order still work.
    """
    text = text_columns(X)
    if not text and not by_name:
        return "passthrough"
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    numbers = [str(c) for c in X.columns if str(c) not in text]
    parts: list[tuple[str, Any, list[str]]] = []
    if numbers:
        parts.append(("numbers", "passthrough", numbers))
    if text:
        parts.append(("text", OneHotEncoder(handle_unknown="ignore", sparse_output=False), text))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
