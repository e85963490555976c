"""Where runs go: the tracking URI, the embedded SQLite store, experiments, and the store's insert races.

The embedded store's path is fixed when the command starts (`<launch dir>/outputs/mlflow.db`,
artifacts in `outputs/mlartifacts/`), never relative to a job's working directory.
`MLFLOW_TRACKING_URI` wins when set. Creating a fresh SQLite schema from several processes at once
corrupts it for good, so creation happens under a file lock (runner.track.locks).
"""
from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)
T = TypeVar("T")

STORE_DIR = "outputs"
DB_NAME = "mlflow.db"
ARTIFACTS = "mlartifacts"


def default_uri(launch_dir: Path | None = None) -> str:
    """The embedded store under the launch directory."""
    base = (launch_dir or Path.cwd()).resolve() / STORE_DIR
    return f"sqlite:///{base / DB_NAME}"


def resolve_uri(configured: str | None = None) -> str:
    """config > $MLFLOW_TRACKING_URI > the embedded store."""
    from runner.config.schema import launch_dir

    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_uri(launch_dir())


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:// URI, else None."""
    if not uri.startswith("sqlite:"):
        return None
    path = unquote(urlparse(uri).path)
    if uri.startswith("sqlite:////"):
        path = "/" + path.lstrip("/")
    elif uri.startswith("sqlite:///"):
        path = path[1:]
    return Path(path).resolve() if path and path != ":memory:" else None


def artifact_root(uri: str) -> Path | None:
    """Artifacts of a SQLite store live beside the database file; a server decides for itself."""
    db = sqlite_path(uri)
    return db.parent / ARTIFACTS if db else None


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "experiment"


HEALTH_TIMEOUT = 5.0  # seconds to open a connection to a tracking server
_reachable: set[str] = set()


def check_reachable(uri: str, timeout: float = HEALTH_TIMEOUT) -> None:
    """Fail fast, in one line, when a tracking server cannot be reached.

    MLflow retries an unreachable server with backoff for minutes; one GET <uri>/health with a short
    timeout first says so in seconds. Any HTTP answer counts as reachable, and a server that
    accepts the connection but answers slowly is left to MLflow's own (unchanged) retries.
    """
    if not uri.startswith(("http://", "https://")) or uri in _reachable:
        return
    import urllib.error
    import urllib.request

    from runner.errors import UserError
    from runner.track.secrets import redact_text

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # it answered: MLflow reports anything else itself
    except urllib.error.URLError as e:
        raise UserError(
            f"tracking server {redact_text(uri)} is unreachable ({e.reason}); start it, or point "
            "MLFLOW_TRACKING_URI / mlflow.tracking_uri at a running server"
        ) from None
    except (TimeoutError, OSError) as e:  # connected, but slow to answer: MLflow's retries handle it
        log.warning("tracking server %s is slow to answer /health (%s); going on", redact_text(uri), e)
    _reachable.add(uri)


def prepare(uri: str, experiment_name: str) -> str:
    """Create the store's schema and the experiment if needed (under the lock); return its id."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from runner.track.locks import schema_lock

    check_reachable(uri)
    with schema_lock(uri):
        client = mlflow.MlflowClient(uri)
        exp = client.get_experiment_by_name(experiment_name)
        if exp is not None:
            return exp.experiment_id
        root = artifact_root(uri)
        location = (root / _slug(experiment_name)).as_uri() if root else None
        try:
            return client.create_experiment(experiment_name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process (servers have no lock)
            exp = client.get_experiment_by_name(experiment_name)
            if exp is None:
                raise
            return exp.experiment_id


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
