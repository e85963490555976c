"""A job's frames as MLflow dataset inputs (runner.track.inputs): the same records as mlflow.data.from_pandas."""
from __future__ import annotations

import numpy as np


def test_dataset_input_is_what_mlflow_from_pandas_records() -> None:
    """tracking.dataset fills the schema and digest column-wise; the logged dataset must not change."""
    import warnings

    import mlflow
    import pandas as pd

    from runner.track import inputs as tracking

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.random((500, 3)), columns=["a", "b", "c"])
    df["flag"] = df.a > 0.5
    df["count"] = rng.integers(0, 5, 500)
    df["gappy"] = df.b.where(df.b > 0.2)  # has missing values: not required
    df["target"] = rng.integers(0, 2, 500)
    big = pd.DataFrame(rng.random((12_000, 3)), columns=["z", "a", "m"])  # beyond the 10,000 rows hashed
    big["target"] = rng.integers(0, 2, 12_000)
    for frame in (df, df.drop(columns=["gappy"]), df.assign(text="x"), big, big[["target", "m", "z", "a"]]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = tracking.dataset(frame, targets="target", name="d")
            theirs = mlflow.data.from_pandas(frame, targets="target", name="d")
            assert ours.to_json() == theirs.to_json()
            assert ours.schema == theirs.schema
    assert not tracking.dataset(df, targets="target", name="d").schema.input_dict()["gappy"].required

