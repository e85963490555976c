"""Shared fixtures: a real SQLite MLflow store in a temp folder, real Hydra, real subprocesses.

Helpers (composition, reading runs back, one-line errors) are in helpers.py; PostgreSQL and the
team server are in servers.py.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import RUN_PY, db_path, train
from servers import postgres_db, tracking_server  # noqa: F401  (PostgreSQL + mlflow server, session-wide)


@pytest.fixture(autouse=True, scope="session")
def _quiet_env() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database made by MLflow once per session: a new store is a copy of it.

    Creating the schema (MLflow's migrations) costs seconds; copying the file costs milliseconds.
    """
    import mlflow

    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """A fresh embedded store in a temp folder (not created: a failed command must not create it)."""
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


@pytest.fixture
def client(store_uri: str, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch):
    """A client on the temp store (an empty MLflow database), also this process's tracking URI for the test."""
    import mlflow

    db = db_path(store_uri)
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_template, db)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)
    mlflow.set_tracking_uri(store_uri)
    yield mlflow.MlflowClient(store_uri)
    mlflow.set_tracking_uri(None)


@pytest.fixture
def run_cli(tmp_path: Path, store_uri: str) -> Callable[..., subprocess.CompletedProcess]:
    """Run `python run.py ARGS` from a temp folder against the temp store."""

    def _run(*args: str, env: dict | None = None, check: bool = True, timeout: float = 600,
             module: str | None = None) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri, **(env or {})}
        cmd = [sys.executable, "-m", module, *args] if module else [sys.executable, str(RUN_PY), *args]
        proc = subprocess.run(cmd, cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{cmd} exited {proc.returncode}\nSTDOUT:\n{proc.stdout}\nSTDERR:\n{proc.stderr}")
        return proc

    return _run


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> SimpleNamespace:
    """Three jobs trained once per session, in this process, on a temp store. Tests read it, never change it.

    - synthetic-imbalanced (300 rows): a weak logreg (C=0.0001) registered as v1 (the first champion), then
      the default logreg registered as v2 (promoted on the same evaluation data);
    - iris: logreg registered as iris-classifier v1 (champion).
    Attributes: uri, folder, client, weak, proper, iris (the job runs).
    """
    import mlflow

    folder = tmp_path_factory.mktemp("model-store")
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    db_path(uri).parent.mkdir(parents=True)
    shutil.copyfile(mlflow_template, db_path(uri))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(folder)
        try:
            train(uri, "registry.register=true", "dataset.n_samples=300", "model.C=0.0001")
            train(uri, "registry.register=true", "dataset.n_samples=300")
            train(uri, "registry.register=true", "dataset=iris")
        finally:
            mlflow.set_tracking_uri(None)
    client = mlflow.MlflowClient(uri)
    synth = client.get_experiment_by_name("synthetic-imbalanced").experiment_id
    weak, proper = client.search_runs([synth], order_by=["attributes.start_time ASC"])
    (iris,) = client.search_runs([client.get_experiment_by_name("iris").experiment_id])
    return SimpleNamespace(uri=uri, folder=folder, client=client, weak=weak, proper=proper, iris=iris)


@pytest.fixture
def store_copy(model_store: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A copy of the session store's database for a test that writes: what it adds goes to the copy (new
    experiments keep their artifacts beside it); the session store's own artifacts are only read.
    Also this process's tracking URI for the test. Attributes: uri, client."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'copy' / 'mlflow.db'}"
    db_path(uri).parent.mkdir()
    shutil.copyfile(db_path(model_store.uri), db_path(uri))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield SimpleNamespace(uri=uri, client=mlflow.MlflowClient(uri))
    mlflow.set_tracking_uri(None)
