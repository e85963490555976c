"""Real services for the scale-out tests: a fresh PostgreSQL database and a real `mlflow server`.

conftest.py imports the fixtures, so one server (session-scoped) serves every test that asks for it;
tests keep apart by experiment and model names.
PostgreSQL is expected on 127.0.0.1:5432 (trust auth); tests skip without it, but FAIL when
RUNNER_REQUIRE_POSTGRES=1 (CI sets it).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import free_port

PG = os.environ.get("RUNNER_TEST_POSTGRES", "postgres@127.0.0.1:5432")  # user@host:port
SERVER_START_TIMEOUT = 240.0  # s: a loaded 2-core machine needs a minute to import the server


def _pg_connect(dbname: str = "postgres"):
    """A psycopg2 connection to the local server, or skip (fail in CI) when there is none."""
    required = os.environ.get("RUNNER_REQUIRE_POSTGRES") == "1"
    try:
        import psycopg2
    except ImportError as e:
        (pytest.fail if required else pytest.skip)(f"psycopg2 not installed (pip install -e '.[server]'): {e}")
    user, _, hostport = PG.partition("@")
    host, _, port = hostport.partition(":")
    try:
        conn = psycopg2.connect(host=host, port=int(port or 5432), user=user, dbname=dbname, connect_timeout=5)
    except psycopg2.OperationalError as e:
        (pytest.fail if required else pytest.skip)(f"PostgreSQL not reachable at {PG}: {e}")
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[str]:
    """A uniquely named, empty PostgreSQL database (dropped afterwards); yields its SQLAlchemy URI."""
    name = f"runner_test_{uuid.uuid4().hex[:12]}"
    conn = _pg_connect()
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the declared driver is psycopg2.
        yield f"postgresql+psycopg2://{PG}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, *extra: str, env: dict | None = None) -> Iterator[str]:
    """`mlflow server` on a free loopback port: yields its http:// URL, stops it (whole process group) after."""
    port = free_port()
    log_path = artifacts.parent / f"mlflow-server-{port}.log"
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
           "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1", *extra]
    full_env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
                # the server's background job runner (huey consumers) is not needed for tracking
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not up after {SERVER_START_TIMEOUT}s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def tracking_server(postgres_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A real tracking server backed by a fresh PostgreSQL database: {"url", "artifacts"}."""
    artifacts = tmp_path_factory.mktemp("server") / "artifacts"
    with mlflow_server(postgres_db, artifacts) as url:
        yield {"url": url, "artifacts": artifacts}
