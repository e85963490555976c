"""A job's logged held-out predictions (predictions/holdout.parquet), read back and lined up row by row.

Models scored on the same data are compared on the rows both were scored on: `paired` matches two
frames by each row's position in the full data, keeping only rows present in both (so neither model
is scored on a row the other was not scored on) and giving the arrays runner.train.uncertainty's
paired tests take.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner.config.schema import PROBA_PREFIX
from runner.track import names

if TYPE_CHECKING:  # numpy and pandas load when a frame is read, not when a command starts
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient



@dataclass(frozen=True)
class Paired:
    """Two models' predictions on the same rows (in the order of `rows`)."""

    rows: np.ndarray       # positions in the full data
    y_true: np.ndarray
    a: tuple[np.ndarray, np.ndarray]  # (labels, probabilities) of the first model
    b: tuple[np.ndarray, np.ndarray]
    classes: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.rows)


@contextlib.contextmanager
def quiet_downloads() -> Iterator[None]:
    """No "Downloading artifacts" progress bar per small file read back (unless the user set
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR): they would land in a sweep's output between its lines."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    if key in os.environ:
        yield
        return
    os.environ[key] = "false"
    try:
        yield
    finally:
        os.environ.pop(key, None)


def load(client: MlflowClient, run_id: str) -> pd.DataFrame | None:
    """The run's held-out predictions, or None for a run logged before they were (or without them)."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="runner-predictions-") as tmp:
        try:
            path = client.download_artifacts(run_id, names.HOLDOUT_PREDICTIONS, tmp)
        except (MlflowException, OSError):
            return None
        import pandas as pd

        return pd.read_parquet(path)


def classes_of(predictions: pd.DataFrame) -> np.ndarray:
    """The model's classes, in its order, read off the `proba_<class>` columns (typed like the labels)."""
    import numpy as np
    import pandas as pd

    known = {str(v): v for v in pd.concat([predictions["label"], predictions["prediction"]]).unique()}
    names_ = [str(c)[len(PROBA_PREFIX):] for c in predictions.columns if str(c).startswith(PROBA_PREFIX)]
    return np.asarray([known.get(n, n) for n in names_])


def paired(a: pd.DataFrame, b: pd.DataFrame) -> Paired:
    """The rows both frames hold (matched by position), with both models' labels and probabilities.

    Raises ValueError when the two models do not know the same classes, or the rows' true labels differ
    (then the frames do not come from the same data).
    """
    classes_a, classes_b = classes_of(a), classes_of(b)
    if [str(c) for c in classes_a] != [str(c) for c in classes_b]:
        raise ValueError(f"the models know different classes ({list(classes_a)} vs {list(classes_b)})")
    import numpy as np

    common = np.intersect1d(a["row"].to_numpy(), b["row"].to_numpy())
    left = a.set_index("row").loc[common]
    right = b.set_index("row").loc[common]
    if not np.array_equal(left["label"].astype(str).to_numpy(), right["label"].astype(str).to_numpy()):
        raise ValueError("the same rows carry different labels: the two models were not scored on the same data")
    proba_cols = [c for c in a.columns if str(c).startswith(PROBA_PREFIX)]
    return Paired(common, left["label"].to_numpy(),
                  (left["prediction"].to_numpy(), left[proba_cols].to_numpy(dtype=float)),
                  (right["prediction"].to_numpy(), right[proba_cols].to_numpy(dtype=float)),
                  classes_a)
