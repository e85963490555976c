"""A job's logged held-out predictions (predictions/holdout.parquet), read back and lined up row by row.

Models scored on the same data are compared on the rows both were scored on: `paired` matches two
frames by each row's position in the full data, keeping only rows present in both (so neither model
is scored on a row the other was not scored on) and giving the arrays runner.train.uncertainty's
paired tests take.

Reading a leaderboard's predictions is one small file per job: a run whose artifacts are on this machine
(a `file://` artifact location: the embedded SQLite store) is read in place, with no copy and no call to
the store; any other is downloaded from its artifact location by a few threads at once (`load_all`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse
from urllib.request import url2pathname

from runner.config.schema import PROBA_PREFIX
from runner.track import names

if TYPE_CHECKING:  # numpy and pandas load when a frame is read, not when a command starts
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

DOWNLOAD_THREADS = 4  # downloads at once from a remote artifact store (each mostly waits on the network)


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


def local_folder(artifact_uri: str | None) -> Path | None:
    """The run's artifact folder when it is on this machine's file system (`file:///...` or a plain path), else None.

    Resolved as MLflow's own local artifact repository resolves it; a `file://host/...` of another host, and
    every remote scheme (mlflow-artifacts:, http:, s3:, ...), is not local.
    """
    if not artifact_uri:
        return None
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" and artifact_uri.startswith("/"):
        return Path(artifact_uri)
    return None


def load(client: MlflowClient, run_id: str, artifact_uri: str | None = None) -> pd.DataFrame | None:
    """The run's held-out predictions, or None for a run logged before they were (or without them).

    With the run's `artifact_uri` (run.info.artifact_uri) a local file is read in place and a remote one is
    downloaded from that location directly; without it, through the run (MlflowClient.download_artifacts).
    """
    folder = local_folder(artifact_uri)
    if folder is not None:
        return _read(folder / names.HOLDOUT_PREDICTIONS)
    return _download(client, run_id, artifact_uri)


def load_all(client: MlflowClient, runs: Mapping[str, str | None], threads: int = DOWNLOAD_THREADS
             ) -> dict[str, pd.DataFrame | None]:
    """`load` of every run (run id -> its artifact URI or None), in the given order: the local ones read in
    place, the others downloaded by `threads` threads at once (a leaderboard reads ~100 small files)."""
    out: dict[str, pd.DataFrame | None] = {}
    remote = []
    for run_id, uri in runs.items():
        folder = local_folder(uri)
        if folder is not None:
            out[run_id] = _read(folder / names.HOLDOUT_PREDICTIONS)
        else:
            remote.append(run_id)
    if len(remote) > 1 and threads > 1:
        with ThreadPoolExecutor(max_workers=min(threads, len(remote)), thread_name_prefix="predictions") as pool:
            frames = list(pool.map(lambda run_id: _download(client, run_id, runs[run_id]), remote))
    else:
        frames = [_download(client, run_id, runs[run_id]) for run_id in remote]
    out.update(zip(remote, frames, strict=True))
    return {run_id: out[run_id] for run_id in runs}


def _read(path: Path) -> pd.DataFrame | None:
    """A predictions file read where it lies; None when the run has none (as a failed download gives)."""
    import pandas as pd

    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:  # removed between the check and the read
        return None


def _download(client: MlflowClient, run_id: str, artifact_uri: str | None) -> pd.DataFrame | None:
    """The run's predictions copied to a temp folder and read: from `artifact_uri` when known (no run lookup),
    else through the run."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="runner-predictions-") as tmp:
        try:
            if artifact_uri:
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{artifact_uri.rstrip('/')}/{names.HOLDOUT_PREDICTIONS}", dst_path=tmp,
                    tracking_uri=client.tracking_uri)
            else:
                path = client.download_artifacts(run_id, names.HOLDOUT_PREDICTIONS, tmp)
        except (MlflowException, OSError) as e:
            log.debug("no predictions for run %s: %s", run_id, e)
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

    rows_a, rows_b = a["row"].to_numpy(), b["row"].to_numpy()
    if np.array_equal(rows_a, rows_b) and rows_a.size == np.unique(rows_a).size:
        # the same split, rows in the same order (the usual case): no index to build
        order = np.argsort(rows_a, kind="stable")
        common, left, right = rows_a[order], a.iloc[order], b.iloc[order]
    else:
        common = np.intersect1d(rows_a, rows_b)
        left = a.set_index("row").loc[common]
        right = b.set_index("row").loc[common]
    if not np.array_equal(left["label"].astype(str).to_numpy(), right["label"].astype(str).to_numpy()):
        raise ValueError("the same rows carry different labels: the two models were not scored on the same data")
    proba_cols = [c for c in a.columns if str(c).startswith(PROBA_PREFIX)]
    return Paired(common, left["label"].to_numpy(),
                  (left["prediction"].to_numpy(), left[proba_cols].to_numpy(dtype=float)),
                  (right["prediction"].to_numpy(), right[proba_cols].to_numpy(dtype=float)),
                  classes_a)
