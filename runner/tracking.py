"""One job -> one MLflow run: its lifecycle, params, metrics, artifacts and model.

The run is created with the job's own start time (so it spans data, fit, evaluation and
logging) and always ends in a final state: FINISHED, FAILED (reason tag + traceback artifact)
or KILLED (Ctrl-C, SIGTERM). Everything is logged in a few batched calls.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import re
import signal
import tempfile
import threading
import time
import traceback
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, TypeVar

from runner.errors import Terminated

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PARAM = 6000  # MLflow's limit on a param value
REASON_TAG = "runner.failure"
SECRET_WORDS = ("password", "passwd", "token", "secret", "key", "credential")
REDACTED = "***"


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested dict/list under its dotted key (`model.C`, `dataset.weights`)."""
    if isinstance(node, Mapping):
        if not node and prefix:
            return {prefix: "{}"}
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(node, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in node):
        out = {}
        for i, v in enumerate(node):
            out.update(flatten(v, f"{prefix}.{i}"))
        return out
    return {prefix: node}


def redact(key: str, value: Any) -> Any:
    """Hide values under secret-looking keys and credentials inside URIs."""
    leaf = key.rsplit(".", 1)[-1].lower()
    if any(word in leaf for word in SECRET_WORDS) and value is not None:
        return REDACTED
    if isinstance(value, str) and "://" in value and "@" in value:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(value)
        if parts.password or parts.username:
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))
    return value


# `\?`: Hydra escapes `:` in the overrides it records (`postgresql\://alice\:pw@host`)
_URI_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*\\?://)[^/@\s]+@")
_SECRET_ASSIGNMENT = re.compile(
    r"""([\w.+~-]*(?:%s)[\w.-]*=)('[^']*'|"[^"]*"|\S+)""" % "|".join(SECRET_WORDS), re.IGNORECASE
)


def redact_text(text: str) -> str:
    """Hide secrets in free text (an override, a failure message): `x.api_token=...` and URI credentials."""
    text = _URI_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}@", str(text))
    return _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def params_of(resolved: Mapping[str, Any]) -> dict[str, str]:
    """The resolved config as MLflow params: dotted keys, redacted, within MLflow's length limit."""
    out = {}
    for key, value in flatten(resolved).items():
        text = "null" if value is None else str(redact(key, value))
        if len(text) > MAX_PARAM:
            text = text[: MAX_PARAM - 15] + "...[truncated]"
        out[key] = text
    return out


def redacted_config(resolved: Mapping[str, Any], prefix: str = "") -> Any:
    """The resolved config with secrets hidden, structure kept (for the YAML artifact)."""
    if isinstance(resolved, Mapping):
        return {k: redacted_config(v, f"{prefix}.{k}" if prefix else str(k)) for k, v in resolved.items()}
    if isinstance(resolved, list):
        return [redacted_config(v, prefix) for v in resolved]
    return redact(prefix, resolved)


@contextlib.contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` for the duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def job_run(
    client: Any, experiment_id: str, run_name: str, tags: Mapping[str, str], start_time: float
) -> Iterator[Any]:
    """Create the job's run (already started at `start_time`), make it active, and close it.

    FINISHED on success; KILLED on Ctrl-C or SIGTERM; FAILED otherwise, with a one-line reason
    tag and the traceback as an artifact. The exception always propagates.
    """
    import mlflow

    run = client.create_run(
        experiment_id, start_time=int(start_time * 1000), tags=dict(tags), run_name=run_name
    )
    run_id = run.info.run_id
    mlflow.start_run(run_id=run_id)
    try:
        with sigterm_as_exception():
            yield run
    except (KeyboardInterrupt, Terminated):
        client.set_tag(run_id, REASON_TAG, "interrupted")
        mlflow.end_run("KILLED")
        raise
    except BaseException as e:
        close_failed(client, run_id, e)
        mlflow.end_run("FAILED")
        raise
    else:
        mlflow.end_run("FINISHED")


def one_line(e: BaseException) -> str:
    """An exception as the one line a user reads."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def close_failed(client: Any, run_id: str, e: BaseException) -> None:
    """Record why a run failed: reason tag and the traceback artifact."""
    try:
        client.set_tag(run_id, REASON_TAG, redact_text(one_line(e)))
        client.log_text(run_id, redact_text("".join(traceback.format_exception(e))), "failure/traceback.txt")
    except Exception:  # the store itself may be what failed; the status still matters most
        log.warning("could not record the failure of run %s", run_id, exc_info=True)


def log_job(
    client: Any,
    run_id: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    model_id: Optional[str] = None,
) -> None:
    """Params, metrics and tags in batched calls (MLflow allows 100 params/tags per call).

    With `model_id` the metrics are also the LoggedModel's: one write does what `log_model` would
    otherwise do afterwards by reading back every metric's history and logging it a second time.
    """
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    params_l = [Param(k, v) for k, v in params.items()]
    tags_l = [RunTag(k, str(v)) for k, v in tags.items()]
    metrics_l = [Metric(k, float(v), now, 0, model_id=model_id) for k, v in metrics.items()]
    for i in range(0, max(len(params_l), len(tags_l), 1), 100):
        client.log_batch(
            run_id,
            metrics=metrics_l if i == 0 else [],
            params=params_l[i : i + 100],
            tags=tags_l[i : i + 100],
            synchronous=True,
        )


REQUIREMENTS = ("mlflow", "scikit-learn", "imbalanced-learn", "xgboost", "cloudpickle", "numpy", "pandas", "scipy")


@functools.lru_cache(maxsize=None)
def pip_requirements(packages: tuple[str, ...] = REQUIREMENTS) -> tuple[str, ...]:
    """Pinned from the installed versions: MLflow would otherwise spend seconds inferring them.

    Cached: each lookup parses a package's metadata file, and the installed versions do not change
    while a process runs its jobs.
    """
    pins = []
    for name in packages:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return tuple(pins)


def signature_of(X: Any, classes: Any) -> Any:
    """An explicit signature: each column's own type (integer columns stay `long`, since MLflow
    refuses integers against `double`; text columns are `string`), and the label type out."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    def col_type(dtype: Any) -> str:
        dtype = np.dtype(dtype) if not hasattr(dtype, "kind") else dtype
        if dtype.kind == "b":
            return "boolean"
        if dtype.kind in "iu":
            return "long"
        if dtype.kind == "f":
            return "double"
        return "string"

    inputs = Schema([ColSpec(col_type(dt), str(c)) for c, dt in X.dtypes.items()])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec(col_type(np.asarray(classes).dtype))]))


class _PickleFormatNotice(logging.Filter):
    """Drops MLflow's warning that the cloudpickle format was chosen: the runner chooses it on purpose
    (see `log_model`), and the same paragraph on every job of a sweep buries the lines that matter."""

    PREFIX = "Saving scikit-learn models in the pickle or cloudpickle format"

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIX)


def _quiet_pickle_notice() -> None:
    sklearn_log = logging.getLogger("mlflow.sklearn")
    if not any(isinstance(f, _PickleFormatNotice) for f in sklearn_log.filters):
        sklearn_log.addFilter(_PickleFormatNotice())


def log_model(pipeline: Any, X: Any, classes: Any) -> Any:
    """Log the fitted pipeline as an MLflow 3 model named "model" in the active run.

    cloudpickle, because the default skops format refuses RandomForest, XGBoost and imblearn
    pipelines; pinned requirements and an explicit signature, because inferring them costs seconds.
    runner's own samplers are pickled by value, so the model loads where runner is not installed.
    """
    import cloudpickle
    import mlflow.sklearn

    from runner import samplers

    cloudpickle.register_pickle_by_value(samplers)
    _quiet_pickle_notice()

    return mlflow.sklearn.log_model(
        pipeline,
        name="model",
        serialization_format="cloudpickle",
        signature=signature_of(X, classes),
        pip_requirements=list(pip_requirements()),
    )


def dataset(df: Any, targets: str, name: str) -> Any:
    """`mlflow.data.from_pandas`, with the digest and schema of an all-numeric frame computed column-wise.

    MLflow infers each column's `required` flag by testing every value in a Python loop: ~8 s for
    70k rows x 11 columns here, growing with the data. For numeric and bool columns the same
    schema (MLflow's own column types; required = no missing value) is a vectorised `isna`.
    Its digest likewise calls `type()` on every value of the frame to find string columns, though
    it hashes only the first 10,000 rows (0.9 s for a 1e6-row job's two frames): a numeric frame
    has none, and `numeric_digest` computes the same digest without looking. Other frames keep
    MLflow's own inference.
    """
    import mlflow
    from mlflow.types import ColSpec, Schema
    from mlflow.types.utils import _infer_pandas_column

    numeric = all(dtype.kind in "biuf" for dtype in df.dtypes)
    ds = mlflow.data.from_pandas(df, targets=targets, name=name, digest=numeric_digest(df) if numeric else None)
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
    return get_normalized_md5_digest(
        [pd.util.hash_pandas_object(trimmed).values, np.int64(len(df))] + [str(x).encode() for x in df.columns]
    )


CONFLICT_ATTEMPTS = 5
UNIQUE_VIOLATIONS = ("UniqueViolation", "duplicate key", "UNIQUE constraint", "Duplicate entry")


def retrying_conflicts(call: Callable[[], T], table: str) -> T:
    """`call()`, repeated when it lost a race with another job inserting the same row into `table`.

    MLflow's SQL store writes a dataset or an alias by reading, then inserting or updating, in one
    transaction. Parallel jobs on a team server (PostgreSQL) writing the same new dataset, or
    giving a model its first `challenger`, both insert; the later insert fails on the table's key,
    and its whole transaction is rolled back. The row exists by then, so the repeated call finds it.
    """
    from mlflow.exceptions import MlflowException

    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return call()
        except MlflowException as e:
            message = str(e)
            if attempt == CONFLICT_ATTEMPTS or table not in message or not any(u in message for u in UNIQUE_VIOLATIONS):
                raise
            log.debug("%s: a concurrent job inserted the same row (attempt %d); trying again", table, attempt)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def log_datasets(train: Any, test: Any, target: str, name: str) -> None:
    """The training and evaluation frames as the active run's inputs, in one store call."""
    import mlflow

    with warnings.catch_warnings():  # the dataset's schema hint about integer columns is noise on every job
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        datasets = [dataset(train, targets=target, name=f"{name}-train"),
                    dataset(test, targets=target, name=f"{name}-test")]
        retrying_conflicts(lambda: mlflow.log_inputs(datasets=datasets, contexts=["training", "evaluation"],
                                                     tags_list=[None, None]), "dataset")


def log_artifacts(client: Any, run_id: str, folder: Path) -> None:
    """Upload a folder's files into the run's artifact root in one call."""
    client.log_artifacts(run_id, str(folder))


def scratch() -> tempfile.TemporaryDirectory:
    """A temporary folder for a job's files before they are uploaded."""
    return tempfile.TemporaryDirectory(prefix="runner-")
