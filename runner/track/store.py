"""Where runs go: the tracking URI, the embedded SQLite store, experiments, and the store's insert races.

The embedded store's path is fixed when the command starts (`<launch dir>/outputs/mlflow.db`,
artifacts in `outputs/mlartifacts/`), never relative to a job's working directory.
`MLFLOW_TRACKING_URI` wins when set. Creating a fresh SQLite schema from several processes at once
corrupts it for good, so creation happens under a file lock (runner.track.locks).

A SQLite store locked by another process: MLflow itself waits 20 s per call (its own
`PRAGMA busy_timeout`, not configurable) and then raises. `waiting_for_lock` repeats the call that met
the lock until `runner.lock_wait` seconds (default 60) have passed, then stops in one line
(`StoreLocked`); `client(uri)` is an MlflowClient whose every call does so. A call that meets the lock
is rolled back whole by MLflow's session, so repeating it writes it once.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import unquote, urlparse

from runner.errors import UserError, causes

if TYPE_CHECKING:
    from mlflow import MlflowClient

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
    """Create the store's schema and the experiment if needed (under the lock); return its id.

    Then close the experiment's orphaned runs (runner.track.liveness): every command that opens the
    store for an experiment does so. A locked store is waited for (`waiting_for_lock`).
    """
    from mlflow.exceptions import MlflowException

    from runner.track import liveness
    from runner.track.locks import schema_lock

    check_reachable(uri)
    with schema_lock(uri):
        mlflow_client = client(uri)
        exp = mlflow_client.get_experiment_by_name(experiment_name)
        if exp is not None:
            experiment_id = str(exp.experiment_id)
        else:
            root = artifact_root(uri)
            location = (root / _slug(experiment_name)).as_uri() if root else None
            try:
                experiment_id = mlflow_client.create_experiment(experiment_name, artifact_location=location)
            except MlflowException:  # created meanwhile by another process (servers have no lock)
                exp = mlflow_client.get_experiment_by_name(experiment_name)
                if exp is None:
                    raise
                experiment_id = str(exp.experiment_id)
    liveness.close_orphans(mlflow_client, [experiment_id], _settings["stale_after"])
    return experiment_id


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


# ---- how long to wait: runner.lock_wait and runner.stale_after (the schema's defaults until configured)
_settings: dict[str, float] = {"lock_wait": 60.0, "stale_after": 600.0}


def configure(runner_cfg: Any) -> None:
    """Take `runner.lock_wait` and `runner.stale_after` from the config's `runner` node (missing keys: defaults)."""
    if runner_cfg is None:
        return
    for key in _settings:
        value = runner_cfg.get(key) if hasattr(runner_cfg, "get") else getattr(runner_cfg, key, None)
        if value is not None:
            _settings[key] = float(value)


def stale_after() -> float:
    return _settings["stale_after"]


# ---- a locked SQLite store
LOCKED = ("database is locked", "database table is locked")
LOCK_POLL = 1.0  # seconds between attempts (each attempt itself waits up to MLflow's 20 s)


class StoreLocked(UserError):
    """The store stayed locked by another process for longer than `runner.lock_wait`."""


def is_locked(e: BaseException) -> bool:
    """Whether `e` (or what it wraps: MlflowException -> SQLAlchemy -> sqlite3) says the database is locked."""
    return any(m in str(x) for x in causes(e) for m in LOCKED)


def where(uri: str | None) -> str:
    from runner.track.secrets import redact_text

    if not uri:
        return "the MLflow store"
    db = sqlite_path(uri)
    return f"the MLflow store {db}" if db else f"the MLflow store {redact_text(uri)}"


READ_ONLY = ("readonly database",)


class _QuietLocks(logging.Filter):
    """MLflow logs every locked (or read-only) call at ERROR with a traceback before raising it; the runner
    handles those: it waits a lock out, and a read-only user's orphan check is skipped."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += str(record.exc_info[1])
        return not any(m in text for m in LOCKED + READ_ONLY)


_MLFLOW_DB_LOGGERS = ("mlflow.store.db.utils", "mlflow.store.tracking.sqlalchemy_store",
                      "mlflow.store.model_registry.sqlalchemy_store")


@functools.cache
def quiet_lock_errors() -> None:
    """Install the filter (once): a lock the runner waits out, or a read-only store, prints no traceback."""
    for name in _MLFLOW_DB_LOGGERS:
        logging.getLogger(name).addFilter(_QuietLocks())


def waiting_for_lock(call: Callable[[], T], uri: str | None = None) -> T:
    """`call()`, repeated while the store is locked by another process, for up to `runner.lock_wait` seconds.

    Then `StoreLocked`: one line naming the store. Any other error is raised as it is.
    """
    quiet_lock_errors()
    started = time.monotonic()
    deadline = started + _settings["lock_wait"]
    told = False
    while True:
        try:
            return call()
        except Exception as e:
            if isinstance(e, StoreLocked) or not is_locked(e):
                raise
            now = time.monotonic()
            if now >= deadline:
                raise StoreLocked(
                    f"{where(uri)} is locked by another process; gave up after {now - started:.0f} s "
                    f"(runner.lock_wait={_settings['lock_wait']:g}); run the command again when it is free"
                ) from None
            if not told:
                log.warning("%s is locked by another process; waiting up to %g s (runner.lock_wait)",
                            where(uri), _settings["lock_wait"])
                told = True
            time.sleep(min(LOCK_POLL, deadline - now))


class LockWaitingClient:
    """An MlflowClient whose every public method waits out a locked store (`waiting_for_lock`)."""

    def __init__(self, inner: MlflowClient) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr):
            return attr
        uri = self._inner.tracking_uri

        @functools.wraps(attr)
        def waiting(*args: Any, **kwargs: Any) -> Any:
            return waiting_for_lock(lambda: attr(*args, **kwargs), uri)

        return waiting


def client(uri: str) -> MlflowClient:
    """An MlflowClient on `uri` that waits out a locked store (opening the store included)."""
    import mlflow

    inner = waiting_for_lock(lambda: mlflow.MlflowClient(uri), uri)
    return cast("MlflowClient", LockWaitingClient(inner))
