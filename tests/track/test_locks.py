"""The cross-process file lock and where a store's locks live (runner.track.locks)."""
from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from runner.track import locks


def test_lock_files_sit_beside_a_sqlite_database_and_per_uri_in_the_temp_folder(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    assert locks.lock_path(uri, "schema") == tmp_path / "store" / "mlflow.db.lock"
    assert locks.lock_path(uri, "promote") == tmp_path / "store" / "mlflow.db.promote.lock"
    a, b = locks.lock_path("http://a:5000", "promote"), locks.lock_path("http://b:5000", "promote")
    assert a != b and a.parent == b.parent == Path(tempfile.gettempdir())
    assert a == locks.lock_path("http://a:5000", "promote") and a.name.startswith("runner-promote-")


def holds_while_held(lock_factory) -> tuple[list[str], float]:
    """Another thread asks for the lock while this one holds it: the order of events, and its wait."""
    events: list[str] = []
    waited: list[float] = []

    def other() -> None:
        t = time.perf_counter()
        with lock_factory():
            waited.append(time.perf_counter() - t)
            events.append("other")

    with lock_factory():
        worker = threading.Thread(target=other)
        worker.start()
        time.sleep(0.3)
        events.append("holder")
    worker.join(10)
    return events, waited[0]


def test_the_lock_is_exclusive_until_released(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "x.lock"  # its folder is created
    events, waited = holds_while_held(lambda: locks.file_lock(path))
    assert events == ["holder", "other"] and waited >= 0.25
    uri = f"sqlite:///{tmp_path}/s/mlflow.db"
    assert holds_while_held(lambda: locks.decision_lock(uri))[0] == ["holder", "other"]
    assert holds_while_held(lambda: locks.schema_lock(uri))[0] == ["holder", "other"]


def test_a_server_store_has_no_schema_lock_here(tmp_path: Path) -> None:
    events, waited = holds_while_held(lambda: locks.schema_lock("http://127.0.0.1:5000"))
    assert events == ["other", "holder"] and waited < 0.25  # the server serialises its own schema
