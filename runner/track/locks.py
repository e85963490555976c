"""The one cross-process file lock, and where the runner's locks for a store live.

A fresh SQLite schema created by several processes at once is corrupted for good, and MLflow has
no compare-and-set on aliases: both are done under an exclusive `flock`. For a SQLite store the lock
files sit beside the database; for any other store (a server) they are per-URI files in the temp
folder, which serialise this machine's processes only.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from runner.track.store import sqlite_path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes on `path` (created if needed), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def lock_path(uri: str, purpose: str) -> Path:
    """`<db>.lock` / `<db>.<purpose>.lock` beside a SQLite file; else a per-URI file in the temp folder."""
    db = sqlite_path(uri)
    if db is not None:
        return db.parent / (f"{db.name}.lock" if purpose == "schema" else f"{db.name}.{purpose}.lock")
    key = hashlib.sha256(uri.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"runner-{purpose}-{key}.lock"


@contextlib.contextmanager
def schema_lock(uri: str) -> Iterator[None]:
    """Serialises creating a SQLite store's schema and experiments (a no-op for servers, which have their own)."""
    if sqlite_path(uri) is None:
        yield
        return
    with file_lock(lock_path(uri, "schema")):
        yield


def decision_lock(uri: str) -> contextlib.AbstractContextManager[None]:
    """Serialises promotion decisions on this store (runner.registry.gate)."""
    return file_lock(lock_path(uri, "promote"))
