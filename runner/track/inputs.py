"""A job's training and evaluation frames as MLflow dataset inputs, without MLflow's per-value scans."""
from __future__ import annotations

import warnings
from typing import Any

from runner.track.store import retrying_conflicts


def dataset(df: Any, targets: str, name: str) -> Any:
    """`mlflow.data.from_pandas`, with the digest and schema of an all-numeric frame computed column-wise.

    MLflow infers each column's `required` flag by testing every value in a Python loop, which grows
    with the data. For numeric and bool columns the same schema (MLflow's own column types; required =
    no missing value) is a vectorised `isna`. Its digest likewise calls `type()` on every value of the
    frame to find string columns, though it hashes only the first 10,000 rows: a numeric frame has
    none, and `numeric_digest` computes the same digest without looking. Other frames keep MLflow's
    own inference.
    """
    import mlflow.data.pandas_dataset
    from mlflow.types import ColSpec, Schema
    from mlflow.types.utils import _infer_pandas_column

    numeric = all(dtype.kind in "biuf" for dtype in df.dtypes)
    ds = mlflow.data.pandas_dataset.from_pandas(df, targets=targets, name=name, digest=numeric_digest(df) if numeric else None)
    if numeric:
        ds.__dict__["schema"] = Schema([  # fills PandasDataset.schema, a functools.cached_property
            ColSpec(type=_infer_pandas_column(df[c]), name=c, required=not bool(df[c].isna().any()))
            for c in df.columns
        ])
    return ds


def numeric_digest(df: Any) -> str:
    """MLflow's `compute_pandas_digest` for a frame with no string column (so none is searched for)."""
    import numpy as np
    import pandas as pd
    from mlflow.data.digest_utils import MAX_ROWS, get_normalized_md5_digest

    trimmed = df.head(MAX_ROWS)
    no_strings = trimmed.columns[:0]  # what MLflow's per-value type() test finds in such a frame
    trimmed = trimmed[no_strings.union(trimmed.select_dtypes(include=[np.number]).columns)]
    return str(get_normalized_md5_digest(
        [pd.util.hash_pandas_object(trimmed).values, np.int64(len(df))] + [str(x).encode() for x in df.columns]
    ))


def log_datasets(train: Any, test: Any, target: str, name: str) -> None:
    """The training and evaluation frames as the active run's inputs, in one store call."""
    import mlflow

    with warnings.catch_warnings():  # the dataset's schema hint about integer columns is noise on every job
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        datasets = [dataset(train, targets=target, name=f"{name}-train"),
                    dataset(test, targets=target, name=f"{name}-test")]
        retrying_conflicts(lambda: mlflow.log_inputs(datasets=datasets, contexts=["training", "evaluation"],
                                                     tags_list=[None, None]), "dataset")
