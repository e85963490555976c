"""Failing and interrupted sweeps: real `python run.py -m ...` subprocesses against a temp store."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import RUN_PY

EXPERIMENT = "synthetic-imbalanced"


def runs_of(client, experiment: str = EXPERIMENT) -> tuple[list, list]:
    """(job runs, sweep parent runs) of an experiment."""
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    jobs = [r for r in runs if r.data.tags.get("runner.sweep") != "true"]
    parents = [r for r in runs if r.data.tags.get("runner.sweep") == "true"]
    return jobs, parents


def summary_rows(folder: Path) -> list[dict]:
    (csv_path,) = folder.glob("outputs/sweeps/*/*/summary.csv")
    with open(csv_path) as fh:
        return list(csv.DictReader(fh))


def test_bad_job_fails_alone_and_the_sweep_says_so_in_one_line(run_cli, client, tmp_path) -> None:
    proc = run_cli("-m", "model.C=1.0,-1.0,0.5", "dataset.n_samples=300", "registry.register=true", check=False)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 1, err
    # clean and honest terminal: no traceback, no Hydra error lines, no injected overrides
    for noise in ("Traceback", "Error executing job", "HYDRA_FULL_ERROR", "mlflow.parent_run_id", "mlflow.tracking_uri"):
        assert noise not in out + err, noise
    last = err.strip().splitlines()[-1]
    assert last.startswith("1 of 3 jobs failed: job 1 FAILED: model.C=-1.0: ") and "'C' parameter" in last

    jobs, (parent,) = runs_of(client)
    by_num = {r.data.tags["runner.job_num"]: r for r in jobs}
    assert sorted(by_num) == ["0", "1", "2"]
    assert [by_num[n].info.status for n in "012"] == ["FINISHED", "FAILED", "FINISHED"]
    bad = by_num["1"]
    reason = bad.data.tags["runner.failure"]
    assert reason.startswith("model.C=-1.0: ") and "\n" not in reason
    trace = Path(client.download_artifacts(bad.info.run_id, "failure/traceback.txt")).read_text()
    assert trace.startswith("Traceback") and "model.C=-1.0" in trace and "runner/job.py" in trace
    assert "runner.model_uri" not in bad.data.tags
    # only the good jobs are registered, even with registry.register=true
    versions = client.search_model_versions("name='synthetic-imbalanced-classifier'")
    assert sorted(v.run_id for v in versions) == sorted([by_num["0"].info.run_id, by_num["2"].info.run_id])
    assert parent.info.status == "FAILED"

    # the leaderboard: terminal, files in the sweep folder and on the parent run
    rows = summary_rows(tmp_path)
    assert [r["job"] for r in rows][-1] == "1" and rows[-1]["status"] == "FAILED" and rows[-1]["reason"] == reason
    assert [r["status"] for r in rows[:2]] == ["FINISHED", "FINISHED"] and all(r["f1"] for r in rows[:2])
    assert rows[-1]["overrides"].startswith("model.C=-1.0 dataset.n_samples=300")
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"summary.csv", "summary.md", "comparison.png"}
    table = out[out.index("3 jobs by f1"): out.index("files:")]
    assert all(len(line) <= 160 for line in table.splitlines())  # non-tty: 160 columns, nothing folded
    assert "overrides" in table and "all jobs: dataset.n_samples=300" in table
    failed_row = next(line for line in table.splitlines() if " FAILED " in line and "model.C=-1.0" in line)
    assert failed_row.split()[:5] == ["3", "1", "logreg", "none", "model.C=-1.0"]
    assert f"job 1 FAILED (run {bad.info.run_id[:8]}): model.C=-1.0: " in table


SLOW_SWEEP = ("-m", "model=rf", "model.n_estimators=5,300,7", "dataset.n_samples=5000")


def interrupt(tmp_path: Path, store_uri: str, client, sig: int, *extra: str) -> subprocess.CompletedProcess:
    """Start the slow sweep, send `sig` to the launching process while job 1 is RUNNING, wait for it."""
    from runner import store

    store.prepare(store_uri, EXPERIMENT)  # the schema exists before the poller and the sweep share it
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri}
    proc = subprocess.Popen([sys.executable, str(RUN_PY), *SLOW_SWEEP, *extra], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        running = client.search_runs([exp_id], "tags.`runner.job_num` = '1' and attributes.status = 'RUNNING'")
        if running:
            proc.send_signal(sig)
            break
        time.sleep(0.1)
    out, err = proc.communicate(timeout=300)
    assert running, f"job 1 was never seen RUNNING\n{out}\n{err}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ctrl_c_kills_the_job_and_the_parent_and_the_same_command_resumes(run_cli, client, store_uri, tmp_path) -> None:
    proc = interrupt(tmp_path, store_uri, client, signal.SIGINT)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "run the same command again to resume" in proc.stderr
    jobs, (parent,) = runs_of(client)
    status = {r.data.tags["runner.job_num"]: r.info.status for r in jobs}
    assert status == {"0": "FINISHED", "1": "KILLED"} and parent.info.status == "KILLED"
    first = {r.data.tags["runner.job_num"]: r.info.run_id for r in jobs}

    run_cli(*SLOW_SWEEP)  # the same command: job 0 reused, the killed job 1 and job 2 trained
    jobs, parents = runs_of(client)
    assert sorted(p.info.status for p in parents) == ["FINISHED", "KILLED"]
    assert sorted(r.info.status for r in jobs) == ["FINISHED"] * 3 + ["KILLED"]
    rows = {r["job"]: r for r in summary_rows_latest(tmp_path)}
    assert rows["0"]["status"] == "REUSED" and rows["0"]["run_id"] == first["0"]
    assert rows["1"]["status"] == "FINISHED" and rows["1"]["run_id"] != first["1"]
    assert rows["2"]["status"] == "FINISHED"


def summary_rows_latest(folder: Path) -> list[dict]:
    latest = sorted(folder.glob("outputs/sweeps/*/*/summary.csv"))[-1]
    with open(latest) as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("sig, extra", [
    pytest.param(signal.SIGTERM, (), id="sigterm"),
    pytest.param(signal.SIGINT, ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2"), id="joblib-sigint"),
])
def test_signal_leaves_no_run_running(client, store_uri, tmp_path, sig, extra) -> None:
    """SIGTERM has no default handler; joblib workers are not told when the launcher is interrupted."""
    proc = interrupt(tmp_path, store_uri, client, sig, *extra)
    assert proc.returncode == 128 + sig, proc.stderr  # 143 for SIGTERM, 130 for Ctrl-C
    jobs, (parent,) = runs_of(client)
    assert parent.info.status == "KILLED"
    statuses = {r.data.tags["runner.job_num"]: r.info.status for r in jobs}
    assert statuses.get("1") == "KILLED" and "RUNNING" not in statuses.values(), statuses
    killed = [r for r in jobs if r.info.status == "KILLED"]
    assert all(r.data.tags["runner.failure"] == "interrupted" for r in killed)


def test_job_failing_inside_fit_is_recorded_failed_without_a_model(run_cli, client) -> None:
    """The other failure path: validation passes, the estimator raises during fit."""
    proc = run_cli("-m", "+model.l1_ratio=1.0", "dataset.n_samples=300", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    (run,), (parent,) = runs_of(client)
    assert run.info.status == "FAILED" and parent.info.status == "FAILED"
    assert "lbfgs supports only" in run.data.tags["runner.failure"]
    assert proc.stderr.strip().splitlines()[-1].startswith("1 of 1 jobs failed: job 0 FAILED: Solver lbfgs")
    trace = Path(client.download_artifacts(run.info.run_id, "failure/traceback.txt")).read_text()
    assert "ValueError" in trace and "in train_and_log" in trace
    assert "runner.model_uri" not in run.data.tags
    assert len(client.search_logged_models([run.info.experiment_id])) == 0
