"""Helpers shared by the test modules: paths, Hydra composition, reading runs back, one-line errors, threads.

Fixtures live in conftest.py (which imports from here); no test module imports another test module.
"""
from __future__ import annotations

import copy
import csv
import functools
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "run.py"
CONF_DIR = ROOT / "conf"

EXPERIMENT = "synthetic-imbalanced"           # the default dataset's experiment
SYNTH = "synthetic-imbalanced-classifier"     # ... and its registered model
ALLOWED = "only estimators and samplers from sklearn.*, xgboost.*, imblearn.*, runner.* may be built"


# ---- Hydra composition (the real conf/, the schema and resolvers registered)

def compose(overrides: list[str]):
    """Hydra's compose API on the project's conf/ (with the schema and resolvers registered).

    Each distinct list of overrides is composed once per session; every call gets its own deep copy.
    """
    return copy.deepcopy(_composed(tuple(overrides), False))


def compose_with_hydra(overrides: list[str]):
    """The full config including the hydra node (launcher, sweeper); composed once per session, copied per call."""
    return copy.deepcopy(_composed(tuple(overrides), True))


@functools.cache
def _composed(overrides: tuple[str, ...], with_hydra: bool):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from runner.config import schema

    schema.register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides), return_hydra_config=with_hydra)


def compose_error(overrides: list[str]) -> BaseException:
    """The exception Hydra raises composing `overrides` (fails the test when it composes)."""
    try:
        _composed(tuple(overrides), False)
    except Exception as e:  # noqa: BLE001 - handed to the test
        return e
    raise AssertionError(f"{overrides} composed without error")


# ---- stores and runs

def db_path(store_uri: str) -> Path:
    """The database file of a sqlite:/// URI."""
    return Path(store_uri.replace("sqlite:///", "", 1))


def job_runs(client, experiment: str = EXPERIMENT) -> list:
    """The job runs of an experiment (every run but sweep parents)."""
    exp = client.get_experiment_by_name(experiment)
    return [r for r in client.search_runs([exp.experiment_id], max_results=1000)
            if r.data.tags.get("runner.sweep") != "true"]


def runs_of(client, experiment: str = EXPERIMENT) -> tuple[list, list]:
    """(job runs, sweep parent runs) of an experiment."""
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    jobs = [r for r in runs if r.data.tags.get("runner.sweep") != "true"]
    parents = [r for r in runs if r.data.tags.get("runner.sweep") == "true"]
    return jobs, parents


def finished_sweep(client, experiment: str, n_jobs: int) -> tuple:
    """The experiment's one sweep: its parent and `n_jobs` children, all FINISHED, none lost."""
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=100)
    (parent,) = [r for r in runs if r.data.tags.get("runner.sweep") == "true"]
    jobs = [r for r in runs if r.data.tags.get("runner.sweep") != "true"]
    assert parent.info.status == "FINISHED"
    assert len(jobs) == n_jobs and all(r.info.status == "FINISHED" for r in jobs)
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in jobs)
    # the parent knows every job by number
    assert {parent.data.tags[f"runner.job.{i}"] for i in range(n_jobs)} == {r.info.run_id for r in jobs}
    return parent, jobs


def logged_models(client, experiment: str = EXPERIMENT) -> int:
    exp = client.get_experiment_by_name(experiment)
    return len(client.search_logged_models([exp.experiment_id], max_results=1000))


def train(store_uri: str, *overrides: str) -> float:
    """One single-run job in this process against the store; returns its optimized_metric."""
    from runner.job import run as job

    return job.run(compose([f"mlflow.tracking_uri={store_uri}", *overrides]))


def aliases(client, name: str) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}


def version_tags(client, name: str, version: str) -> dict[str, str]:
    return client.get_model_version(name, version).tags


def wait_for_running(client, experiment: str, proc: subprocess.Popen, timeout: float = 120) -> str:
    """The id of the first RUNNING job run (the job is then inside its fit)."""
    deadline = time.time() + timeout
    exp = client.get_experiment_by_name(experiment)
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        runs = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'")
        jobs = [r for r in runs if r.data.tags.get("runner.sweep") != "true"]
        if jobs:
            return jobs[0].info.run_id
        time.sleep(0.2)
    raise AssertionError("no job run started")


def hand_made_sweep(client, store_uri: str) -> dict:
    """A sweep written by hand in experiment `sweeps`: a parent (sweep folder .../2026-01-02/10-11-12), its
    children job 0 (f1=0.6) and job 1 (FAILED), job 2 reused from an earlier run (f1=0.7), job 3 reused from a run
    that no longer exists; and an older sweep. Returns the ids: experiment, parent, earlier, jobs."""
    from runner.track import names, store

    experiment = store.prepare(store_uri, "sweeps")

    def run(tags: dict, status: str = "FINISHED", f1: float | None = None, start: int | None = None) -> str:
        run_id = client.create_run(experiment, tags=tags, start_time=start).info.run_id
        if f1 is not None:
            client.log_metric(run_id, "f1", f1)
        client.set_terminated(run_id, status)
        return run_id

    earlier = run({names.JOB_NUM: "0", names.OVERRIDES: "model.C=2"}, f1=0.7, start=1000)
    gone = "0" * 32  # a run that no longer exists (deleted for good)
    parent = run({names.SWEEP: "true", names.SWEEP_DIR: "/x/outputs/sweeps/2026-01-02/10-11-12",
                  f"{names.REUSED_PREFIX}2": earlier, f"{names.REUSED_PREFIX}3": gone}, start=2000)
    jobs = [run({names.PARENT: parent, names.JOB_NUM: str(i), names.OVERRIDES: f"model=logreg model.C={c}"},
                status, f1) for i, (c, status, f1) in enumerate([(0.1, "FINISHED", 0.6), (1.0, "FAILED", None)])]
    run({names.SWEEP: "true"}, start=500)  # an older sweep
    return {"experiment": experiment, "parent": parent, "earlier": earlier, "jobs": jobs}


# ---- a sweep's files

def read_csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def latest_summary(folder: Path) -> Path:
    """The newest sweep's summary.csv under `folder`/outputs/sweeps."""
    return sorted(folder.glob("outputs/sweeps/*/*/summary.csv"))[-1]


def summary_rows(folder: Path) -> list[dict]:
    """The rows of the one sweep's summary.csv under `folder`/outputs/sweeps."""
    (csv_path,) = folder.glob("outputs/sweeps/*/*/summary.csv")
    return read_csv(csv_path)


# ---- what a user reads

def assert_one_line_error(proc: subprocess.CompletedProcess, *expected: str) -> str:
    """Non-zero exit, no traceback, and one `error:` line holding every expected piece."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "HYDRA_FULL_ERROR" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for piece in expected:
        assert piece in errors[0], (piece, errors[0])
    return errors[0]


# ---- threads and ports

def at_once(call: Callable[[Any, Callable[[], Any]], None], args: list[Any]) -> list[BaseException]:
    """`call(arg, go)` for each arg in its own thread; every thread waits in `go()` until all are there.

    Returns the exceptions the calls raised.
    """
    barrier = threading.Barrier(len(args))
    errors: list[BaseException] = []

    def run(arg: Any) -> None:
        try:
            call(arg, barrier.wait)
        except BaseException as e:  # noqa: BLE001 - returned to the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_predictions(model: str, env: dict, cwd: Path, batches: list) -> list[list]:
    """Predictions of MLflow's own REST server (`mlflow models serve`) for each DataFrame in `batches`."""
    import json
    import os
    import signal
    import sys
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # `mlflow models serve` starts `uvicorn` from PATH
    env = {**env, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    log = open(cwd / "serve.log", "wb")  # noqa: SIM115 - the server writes to it until it is stopped
    server = subprocess.Popen([os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", model, "--env-manager",
                               "local", "-h", "127.0.0.1", "-p", str(port)],
                              cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 180
        while True:
            assert server.poll() is None, (cwd / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                assert time.time() < deadline, "mlflow models serve did not start"
                time.sleep(0.5)
        out = []
        for batch in batches:
            body = json.dumps({"dataframe_split": json.loads(batch.to_json(orient="split", index=False))}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    out.append(json.loads(answer.read())["predictions"])
            except urllib.error.HTTPError as e:
                raise AssertionError(f"{e.code}: {e.read().decode()[:2000]}") from None
        return out
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
