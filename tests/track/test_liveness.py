"""Orphaned runs: every run records where its process runs; a RUNNING run whose process is provably gone is
closed as KILLED by the next command that opens the store, and a live one is never touched.

Real stores, real processes and real signals (SIGKILL); another machine is a run whose tags say so.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers import RUN_PY, wait_for_running
from runner.track import liveness, names, runs, store

HOLDER = textwrap.dedent("""
    import sys, time
    from runner.track import runs, store
    uri, experiment = sys.argv[1], sys.argv[2]
    client = store.client(uri)
    with runs.job_run(client, experiment, "holder", {}, time.time()) as run:
        print(run.info.run_id, flush=True)
        time.sleep(600)
""")


def start_holder(uri: str, experiment_id: str, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """A real process holding a RUNNING run open (runs.job_run), and the run's id."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, uri, experiment_id], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.communicate()
    return proc, run_id


def make_run(client, experiment_id: str, tags: dict[str, str]) -> str:
    return client.create_run(experiment_id, tags=tags, run_name="hand-made").info.run_id


def test_a_run_records_where_its_process_runs(client, store_uri) -> None:
    experiment = store.prepare(store_uri, "places")
    with runs.job_run(client, experiment, "job", {"a": "b"}, time.time()) as run:
        tags = client.get_run(run.info.run_id).data.tags
    assert tags[names.PID] == str(os.getpid())
    assert tags[names.PID_START] == liveness.process_start(os.getpid())
    assert tags[names.BOOT_ID] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert tags[names.PID_NS] == os.readlink("/proc/self/ns/pid")
    assert tags[names.HOST] and abs(float(tags[names.HEARTBEAT]) - time.time()) < 60
    failed = runs.record_failed(client, experiment, "refused", {}, time.time(), ValueError("bad"))
    assert client.get_run(failed).data.tags[names.PID] == str(os.getpid())


def test_this_process_and_its_twin_with_another_start_time(client, store_uri, capsys) -> None:
    """The pid alone is not enough: the same pid with another start time is a reused pid, so the run is an orphan."""
    experiment = store.prepare(store_uri, "reuse")
    mine = make_run(client, experiment, liveness.tags())
    reused = make_run(client, experiment, {**liveness.tags(), names.PID_START: "1"})
    closed = liveness.close_orphans(client, [experiment], 600)
    assert closed == [reused]
    assert client.get_run(mine).info.status == "RUNNING"
    gone = client.get_run(reused)
    assert gone.info.status == "KILLED"
    host = gone.data.tags[names.HOST]
    assert gone.data.tags[names.FAILURE] == f"process {os.getpid()} on {host} is gone"
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"closed orphaned run {reused} (hand-made) as KILLED: process {os.getpid()} on {host} is gone"]


def test_other_machines_are_judged_by_their_heartbeat(client, store_uri) -> None:
    experiment = store.prepare(store_uri, "remote")
    elsewhere = {**liveness.tags(), names.BOOT_ID: "another-machine", names.HOST: "ray-worker-1", names.PID: "77"}
    fresh = make_run(client, experiment, {**elsewhere, names.HEARTBEAT: str(int(time.time()) - 30)})
    silent = make_run(client, experiment, {**elsewhere, names.HEARTBEAT: str(int(time.time()) - 1000)})
    # the same machine in another container (same boot id, another pid namespace): heartbeat too
    container = make_run(client, experiment, {**liveness.tags(), names.PID_NS: "pid:[1]",
                                              names.HEARTBEAT: str(int(time.time()) - 1000)})
    legacy = make_run(client, experiment, {})  # logged before runs recorded where they run
    closed = liveness.close_orphans(client, [experiment], stale_after=600)
    assert sorted(closed) == sorted([silent, container])
    assert client.get_run(fresh).info.status == "RUNNING"
    assert client.get_run(legacy).info.status == "RUNNING"
    reason = client.get_run(silent).data.tags[names.FAILURE]
    assert reason.startswith("process 77 on ray-worker-1 sent no heartbeat for ") and "runner.stale_after=600" in reason
    # a shorter stale_after closes the fresher one too
    assert liveness.close_orphans(client, [experiment], stale_after=10) == [fresh]


def test_a_read_only_user_gets_no_cleanup_and_no_error(client, store_uri, capfd) -> None:
    experiment = store.prepare(store_uri, "read-only")
    orphan = make_run(client, experiment, {**liveness.tags(), names.PID_START: "1"})
    read_only = f"sqlite:///file:{store_uri.removeprefix('sqlite:///')}?mode=ro&uri=true"
    import mlflow

    reader = mlflow.MlflowClient(read_only)
    assert reader.get_run(orphan).info.status == "RUNNING"  # it can read
    assert liveness.close_orphans(reader, [experiment], 600) == []
    assert client.get_run(orphan).info.status == "RUNNING"
    out, err = capfd.readouterr()
    assert "Traceback" not in err and "orphan" not in err, err


def test_the_heartbeat_beats_while_the_run_is_open_and_stops_after(client, store_uri) -> None:
    experiment = store.prepare(store_uri, "beats")
    run_id = make_run(client, experiment, {**liveness.tags(), names.HEARTBEAT: "0"})
    beat = liveness.Heartbeat(client, run_id, stale_after=4)  # every 1 s
    assert beat.every == 1.0
    time.sleep(2.5)
    beat.stop()
    last = float(client.get_run(run_id).data.tags[names.HEARTBEAT])
    assert time.time() - last < 3
    time.sleep(1.5)
    assert float(client.get_run(run_id).data.tags[names.HEARTBEAT]) == last


@pytest.mark.slow
def test_a_live_process_is_never_touched_and_a_killed_one_is_closed(client, store_uri, tmp_path: Path) -> None:
    experiment = store.prepare(store_uri, "live")
    proc, run_id = start_holder(store_uri, experiment, tmp_path)
    try:
        tags = client.get_run(run_id).data.tags
        assert tags[names.PID] == str(proc.pid)
        # alive: untouched, whatever its heartbeat or stale_after says
        assert liveness.close_orphans(client, [experiment], stale_after=0) == []
        assert client.get_run(run_id).info.status == "RUNNING"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert liveness.close_orphans(client, [experiment], stale_after=600) == [run_id]
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags[names.FAILURE] == f"process {proc.pid} on {tags[names.HOST]} is gone"


@pytest.mark.slow
def test_a_zombie_is_gone(client, store_uri, tmp_path: Path) -> None:
    """SIGKILLed but not yet collected by its parent: it has exited, so its run is an orphan."""
    experiment = store.prepare(store_uri, "zombie")
    proc, run_id = start_holder(store_uri, experiment, tmp_path)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        deadline = time.time() + 30
        while liveness.process_start(proc.pid) is not None:
            assert time.time() < deadline
            time.sleep(0.05)
        assert Path(f"/proc/{proc.pid}").exists()  # still there, as a zombie
        assert liveness.close_orphans(client, [experiment], 600) == [run_id]
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_a_killed_job_is_closed_by_the_next_command(run_cli, client, store_uri, tmp_path: Path) -> None:
    """`python run.py` SIGKILLed mid-fit leaves its run RUNNING; `runner.review` and the next run close it, in one line."""
    store.prepare(store_uri, "synthetic-imbalanced")
    slow = ["model=rf", "model.n_estimators=20000", "model.n_jobs=1", "model.max_depth=null", "dataset.n_samples=1000"]
    proc = subprocess.Popen([sys.executable, str(RUN_PY), *slow], cwd=tmp_path,
                            env={**os.environ, "MLFLOW_TRACKING_URI": store_uri},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = wait_for_running(client, "synthetic-imbalanced", proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert client.get_run(run_id).info.status == "RUNNING"
    review = run_cli("--experiment", "synthetic-imbalanced", module="runner.review", check=False)
    assert "Traceback" not in review.stderr, review.stderr
    lines = [line for line in review.stderr.splitlines() if "orphaned" in line]
    assert lines == [f"closed orphaned run {run_id} (rf+none) as KILLED: process {proc.pid} on "
                     f"{client.get_run(run_id).data.tags[names.HOST]} is gone"], review.stderr
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags[names.FAILURE].startswith(f"process {proc.pid} on ")
    again = run_cli("dataset.n_samples=300")  # the next run finds nothing left to close
    assert "orphaned" not in again.stderr
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    assert client.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'") == []


@pytest.mark.slow
def test_the_check_is_one_cheap_search(client, store_uri) -> None:
    """On an experiment of 1000 finished runs and a few RUNNING ones: one search, well under a tenth of a second."""
    from mlflow.entities import Metric, Param, RunTag

    experiment = store.prepare(store_uri, "big")
    now = int(time.time() * 1000)
    for i in range(1000):
        run_id = client.create_run(experiment, tags=liveness.tags()).info.run_id
        client.log_batch(run_id, metrics=[Metric(m, 0.5, now, 0) for m in ("f1", "roc_auc", "accuracy")],
                         params=[Param(f"p{j}", str(i)) for j in range(20)], tags=[RunTag("runner.identity", str(i))])
        client.set_terminated(run_id, "FINISHED")
    alive = [make_run(client, experiment, liveness.tags()) for _ in range(3)]
    timings = []
    for _ in range(5):
        t = time.perf_counter()
        assert liveness.close_orphans(client, [experiment], 600) == []
        timings.append(time.perf_counter() - t)
    best = min(timings)
    print(f"orphan check on 1003 runs (3 RUNNING): best {best * 1000:.1f} ms, worst {max(timings) * 1000:.1f} ms")
    assert best < 0.1
    assert all(client.get_run(r).info.status == "RUNNING" for r in alive)


@pytest.mark.slow
def test_a_killed_sweep_is_closed_by_the_next_sweep_which_resumes(run_cli, client, store_uri, tmp_path: Path) -> None:
    """A basic-launcher sweep SIGKILLed mid-job leaves its parent and that job RUNNING; the next sweep closes
    both in one line each and reuses the job that had finished."""
    store.prepare(store_uri, "synthetic-imbalanced")
    grid = ["-m", "model=rf", "model.n_jobs=1", "model.max_depth=null", "dataset.n_samples=1000"]
    proc = subprocess.Popen([sys.executable, str(RUN_PY), *grid, "model.n_estimators=3,20000"], cwd=tmp_path,
                            env={**os.environ, "MLFLOW_TRACKING_URI": store_uri},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    exp_id = client.get_experiment_by_name("synthetic-imbalanced").experiment_id
    try:
        deadline = time.time() + 180
        while not client.search_runs([exp_id], "tags.`runner.job_num` = '1' and attributes.status = 'RUNNING'"):
            assert proc.poll() is None and time.time() < deadline, "the slow job never started"
            time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    running = client.search_runs([exp_id], "attributes.status = 'RUNNING'")
    assert len(running) == 2  # the sweep's parent and job 1
    again = run_cli(*grid, "model.n_estimators=3,5")
    closed = [line for line in again.stderr.splitlines() if "orphaned" in line]
    assert closed and "Traceback" not in again.stderr
    for run in running:
        after = client.get_run(run.info.run_id)
        assert after.info.status == "KILLED" and after.data.tags[names.FAILURE] == (
            f"process {proc.pid} on {after.data.tags[names.HOST]} is gone")
    assert client.search_runs([exp_id], "attributes.status = 'RUNNING'") == []
    parents = client.search_runs([exp_id], "tags.`runner.sweep` = 'true'", order_by=["attributes.start_time DESC"])
    assert parents[0].data.tags.get("runner.reused.0")  # the finished job of the killed sweep was resumed
