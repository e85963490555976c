"""A SQLite store locked by another process: the runner waits up to `runner.lock_wait`, then stops in one line.

The lock is real: a second process holds `BEGIN EXCLUSIVE` with the sqlite3 module. MLflow itself waits 20 s
per call (its own busy timeout) and then raises; the runner repeats the call until `runner.lock_wait`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers import EXPERIMENT, RUN_PY, assert_one_line_error, db_path, job_runs, train, wait_for_running
from runner.track import names, store

LOCKER = textwrap.dedent("""
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    con.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.execute("COMMIT")
    print("released", flush=True)
""")


def hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process holding an exclusive lock on `db` for `seconds` (returns once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture(autouse=True)
def _default_wait():
    yield
    store.configure({"lock_wait": 60.0, "stale_after": 600.0})


def test_the_runner_keys_never_force_retraining(client, store_uri) -> None:
    train(store_uri, "dataset.n_samples=300")
    train(store_uri, "dataset.n_samples=300", "runner.lock_wait=5", "runner.stale_after=30")
    (run,) = job_runs(client)
    assert run.info.status == "FINISHED"


@pytest.mark.slow  # waits out a real SQLite lock
def test_a_locked_error_is_recognised_through_mlflows_wrappers(client, store_uri) -> None:
    experiment = store.prepare(store_uri, "locked")
    store.configure({"lock_wait": 1})
    holder = hold_lock(db_path(store_uri), 120)
    try:
        import mlflow

        raw = mlflow.MlflowClient(store_uri)
        with pytest.raises(Exception) as caught:
            raw.create_run(experiment)
        assert store.is_locked(caught.value)
        t = time.monotonic()
        with pytest.raises(store.StoreLocked, match=f"the MLflow store {db_path(store_uri)} is locked by another process"):
            store.client(store_uri).create_run(experiment)
        assert time.monotonic() - t < 30  # one of MLflow's attempts (20 s), not more
    finally:
        holder.kill()
        holder.wait()
    assert not store.is_locked(ValueError("the database is fine"))


@pytest.mark.slow
def test_a_lock_held_30_s_costs_only_the_wait(client, store_uri) -> None:
    """Beyond MLflow's own 20 s, within runner.lock_wait (60 s): the call succeeds once the lock is gone."""
    experiment = store.prepare(store_uri, "waits")
    holder = hold_lock(db_path(store_uri), 30)
    t = time.monotonic()
    try:
        run = store.client(store_uri).create_run(experiment, tags={"a": "b"})
    finally:
        holder.wait(timeout=60)
    waited = time.monotonic() - t
    assert 25 < waited < 45, waited
    assert client.get_run(run.info.run_id).data.tags["a"] == "b"


@pytest.mark.slow
def test_a_job_waits_out_a_30_s_lock(run_cli, client, store_uri) -> None:
    """`python run.py` started while another process holds the store for 30 s: it waits, then runs as usual."""
    store.prepare(store_uri, EXPERIMENT)
    holder = hold_lock(db_path(store_uri), 30)
    t = time.monotonic()
    try:
        proc = run_cli("dataset.n_samples=300", check=False)
    finally:
        holder.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert time.monotonic() - t < 60
    (run,) = job_runs(client)
    assert run.info.status == "FINISHED"


@pytest.mark.slow
def test_a_lock_held_past_the_wait_ends_in_one_line(run_cli, client, store_uri) -> None:
    """runner.lock_wait=5 with the store locked throughout: one line naming the store, exit 1, no traceback.

    The lock is held past one of MLflow's own 20 s attempts (a shorter hold ends inside that attempt)."""
    store.prepare(store_uri, EXPERIMENT)
    holder = hold_lock(db_path(store_uri), 120)
    t = time.monotonic()
    try:
        proc = run_cli("dataset.n_samples=300", "runner.lock_wait=5", check=False)
    finally:
        holder.kill()
        holder.wait()
    assert time.monotonic() - t < 60
    assert_one_line_error(proc, f"the MLflow store {db_path(store_uri)} is locked by another process",
                          "runner.lock_wait=5")
    assert "Traceback" not in proc.stdout
    assert job_runs(client) == []  # it stopped before it created its run


@pytest.mark.slow
@pytest.mark.parametrize("multirun", [False, True], ids=["single", "sweep"])
def test_a_final_status_the_lock_kept_out_is_written_by_the_next_command(multirun, run_cli, client, store_uri,
                                                                          tmp_path: Path) -> None:
    """Locked mid-fit, past the wait: the job stops in one line, its run stays RUNNING; the next command closes it."""
    store.prepare(store_uri, EXPERIMENT)
    slow = ["model=rf", "model.n_estimators=3000", "model.n_jobs=1", "model.max_depth=null",
            "dataset.n_samples=1000", "runner.lock_wait=5", "registry.register=true"]
    cmd = [sys.executable, str(RUN_PY), *(["-m"] if multirun else []), *slow]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "MLFLOW_TRACKING_URI": store_uri},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holder = None
    try:
        run_id = wait_for_running(client, EXPERIMENT, proc)
        holder = hold_lock(db_path(store_uri), 300)
        out, err = proc.communicate(timeout=300)
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
        if proc.poll() is None:
            proc.kill()
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    assert_one_line_error(done, f"the MLflow store {db_path(store_uri)} is locked by another process")
    assert "Traceback" not in out
    assert client.get_run(run_id).info.status == "RUNNING"
    review = run_cli("--experiment", EXPERIMENT, module="runner.review", check=False)
    assert "Traceback" not in review.stderr
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags[names.FAILURE] == f"process {proc.pid} on {run.data.tags[names.HOST]} is gone"
    assert client.search_model_versions("name='synthetic-imbalanced-classifier'") == []
    exp = client.get_experiment_by_name(EXPERIMENT)
    running = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'")
    # every run that records its process is closed (a sweep's parent run does once lifecycle records it)
    assert [r for r in running if names.PID in r.data.tags] == []
