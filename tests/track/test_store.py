"""Where runs go (runner.track.store): URIs, the embedded store, experiments, reachability and insert races."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import RUN_PY, assert_one_line_error
from runner.track import store


@pytest.mark.slow
def test_unreachable_tracking_server_fails_fast_naming_it(run_cli) -> None:
    uri = "http://127.0.0.1:9"
    for args in (["dataset.n_samples=300"], ["-m", "model=logreg,rf", "dataset.n_samples=300"]):
        t = time.perf_counter()
        proc = run_cli(*args, check=False, env={"MLFLOW_TRACKING_URI": uri}, timeout=90)
        print(f"{args}: failed after {time.perf_counter() - t:.1f}s")  # MLflow's own retries: minutes
        assert_one_line_error(proc, f"tracking server {uri} is unreachable", "MLFLOW_TRACKING_URI")
        # a sweep stops before launching anything (Hydra would turn the error into a warning and go on)
        assert "Warning" not in proc.stderr and "Launching jobs" not in proc.stdout + proc.stderr, proc.stderr


def test_a_slow_server_is_left_to_mlflows_retries() -> None:
    """Accepting the connection but not answering /health in time is not 'unreachable'."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    try:
        store.check_reachable(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.5)
    finally:
        server.close()


@pytest.mark.slow
def test_two_sweeps_at_once_on_a_fresh_embedded_store(tmp_path: Path) -> None:
    """Both create the schema of the same new outputs/mlflow.db at the same moment: no run or version lost."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    procs = []
    for n, seeds in enumerate(("1,2", "3,4")):
        cmd = [sys.executable, str(RUN_PY), "-m", "model=logreg", "dataset.n_samples=300",
               f"seed={seeds}", "registry.register=true", f"hydra.sweep.dir=outputs/sweeps/s{n}"]
        procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
    import mlflow

    uri = store.default_uri(tmp_path)
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("runner.sweep") == "true"]
    jobs = [r for r in runs if r.data.tags.get("runner.sweep") != "true"]
    assert len(parents) == 2 and len(jobs) == 4
    assert all(r.info.status == "FINISHED" for r in runs)
    assert sorted(r.data.params["seed"] for r in jobs) == ["1", "2", "3", "4"]
    versions = client.search_model_versions("name='synthetic-imbalanced-classifier'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    assert sorted(v.run_id for v in versions) == sorted(r.info.run_id for r in jobs)



# ---- in this process

def test_sqlite_paths_of_uris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert store.sqlite_path("sqlite:///outputs/mlflow.db") == tmp_path / "outputs" / "mlflow.db"
    assert store.sqlite_path(f"sqlite:///{tmp_path}/a%20b/m.db") == tmp_path / "a b" / "m.db"
    assert store.sqlite_path("sqlite:////var/x/m.db") == Path("/var/x/m.db")
    for uri in ("sqlite:///:memory:", "sqlite://", "http://127.0.0.1:5000", "postgresql://u@h/db", "file:///tmp/mlruns"):
        assert store.sqlite_path(uri) is None, uri


def test_the_embedded_store_lives_under_the_launch_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    expected = f"sqlite:///{tmp_path}/outputs/mlflow.db"
    assert store.default_uri() == store.default_uri(tmp_path) == store.resolve_uri() == expected
    assert store.artifact_root(expected) == tmp_path / "outputs" / "mlartifacts"
    assert store.artifact_root("http://h:5000") is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://h:5000")
    assert store.resolve_uri() == "http://h:5000"  # the environment over the default
    assert store.resolve_uri("sqlite:///x.db") == "sqlite:///x.db"  # the config over both


def test_prepare_creates_the_experiment_once_with_its_artifacts_beside_the_database(client, store_uri: str) -> None:
    first = store.prepare(store_uri, "my exp/1")
    assert store.prepare(store_uri, "my exp/1") == first
    exp = client.get_experiment(first)
    assert exp.name == "my exp/1"
    assert exp.artifact_location == (Path(store_uri.replace("sqlite:///", "")).parent / "mlartifacts" / "my-exp-1").as_uri()
    assert store._slug("***") == "experiment"


def test_processes_preparing_one_new_experiment_at_once_get_one_id(client, store_uri: str) -> None:
    from helpers import at_once

    ids: list[str] = []
    errors = at_once(lambda _, go: (go(), ids.append(store.prepare(store_uri, "raced"))), list(range(4)))
    assert not errors and len(set(ids)) == 1 and len(ids) == 4


def test_retrying_conflicts_repeats_only_a_lost_insert_race(client) -> None:
    from mlflow.exceptions import MlflowException

    client.create_experiment("taken")
    calls: list[int] = []

    def lost_once() -> str:  # the first call loses the race on the experiments table, as a real store says it
        calls.append(1)
        if len(calls) == 1:
            client.create_experiment("taken")
        return client.get_experiment_by_name("taken").experiment_id

    assert store.retrying_conflicts(lost_once, "experiments") == client.get_experiment_by_name("taken").experiment_id
    assert len(calls) == 2

    calls.clear()
    with pytest.raises(MlflowException, match="UNIQUE constraint failed: experiments"):
        store.retrying_conflicts(lambda: calls.append(1) or client.create_experiment("taken"), "registered_model_alias")
    assert len(calls) == 1  # another table's conflict is not this call's race

    calls.clear()
    with pytest.raises(MlflowException, match="UNIQUE constraint failed"):
        store.retrying_conflicts(lambda: calls.append(1) or client.create_experiment("taken"), "experiments")
    assert len(calls) == store.CONFLICT_ATTEMPTS  # a conflict that persists is raised after the last attempt

    calls.clear()
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|not found|No Experiment"):
        store.retrying_conflicts(lambda: calls.append(1) or client.get_experiment("424242"), "experiments")
    assert len(calls) == 1


def test_a_closed_port_is_unreachable_in_one_line_without_credentials() -> None:
    from helpers import free_port
    from runner.errors import UserError

    uri = f"http://alice:pw@127.0.0.1:{free_port()}"
    t = time.perf_counter()
    with pytest.raises(UserError) as e:
        store.check_reachable(uri)
    assert time.perf_counter() - t < store.HEALTH_TIMEOUT
    assert str(e.value).startswith(f"tracking server http://***@127.0.0.1:{uri.rsplit(':', 1)[1]} is unreachable (")
    assert "pw" not in str(e.value) and uri not in store._reachable


def test_any_http_answer_is_reachable_and_remembered() -> None:
    import http.server

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        store.check_reachable(uri)
    finally:
        server.shutdown()
        server.server_close()
    assert uri in store._reachable
    store.check_reachable(uri)  # not asked again (the server is gone now)
    store.check_reachable("sqlite:///nowhere/m.db")  # not a server: nothing to check
