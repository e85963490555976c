"""Shared fixtures: a real SQLite MLflow store in a temp folder, real Hydra, real subprocesses."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from servers import postgres_db, tracking_server  # noqa: F401  (PostgreSQL + mlflow server, session-wide)

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "run.py"


@pytest.fixture(autouse=True, scope="session")
def _quiet_env() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """A fresh embedded store in a temp folder."""
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


@pytest.fixture
def client(store_uri: str, monkeypatch: pytest.MonkeyPatch):
    """A client on the temp store, which is also this process's tracking URI for the test."""
    import mlflow

    (Path(store_uri.replace("sqlite:///", ""))).parent.mkdir(parents=True, exist_ok=True)
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


def compose(overrides: list[str]):
    """Hydra's compose API on the project's conf/ (with the schema and resolvers registered)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from runner import config

    config.register()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)
