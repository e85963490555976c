"""A sweep's life in the launching process (runner.sweep.lifecycle): failing, invalid and interrupted jobs,
the parent run, the leaderboard files and resuming; real `python run.py -m ...` subprocesses against a temp store."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ALLOWED, EXPERIMENT, RUN_PY, latest_summary, read_csv, runs_of, summary_rows


@pytest.mark.slow
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
    assert trace.startswith("Traceback") and "model.C=-1.0" in trace and "runner/job/run.py" in trace
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
    # non-tty: 160 columns, nothing folded (the gate's own `registry:` lines after the table are plain prints)
    assert all(len(line) <= 160 for line in table.splitlines() if not line.startswith("registry: "))
    assert "overrides" in table and "all jobs: dataset.n_samples=300" in table
    failed_row = next(line for line in table.splitlines() if " FAILED " in line and "model.C=-1.0" in line)
    cells = failed_row.split()  # rank, job, ... (the rank is the first column a 160-column table may drop)
    assert cells[:5] == ["3", "1", "logreg", "none", "model.C=-1.0"] or cells[:4] == ["1", "logreg", "none", "model.C=-1.0"]
    assert f"job 1 FAILED (run {bad.info.run_id[:8]}): model.C=-1.0: " in table


@pytest.mark.slow
def test_invalid_jobs_of_a_sweep_are_failed_runs_and_the_rest_go_on(run_cli, client) -> None:
    proc = run_cli("-m", "model._target_=shutil.copy,sklearn.linear_model.LogisticRegression",
                   "dataset.test_size=1.5,0.3", "dataset.n_samples=300", "registry.register=true", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "3 of 4 jobs failed" in proc.stderr
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("runner.sweep") == "true"]
    jobs = {r.data.tags["runner.job_num"]: r for r in runs if r is not parent}
    assert parent.info.status == "FAILED"
    assert sorted(jobs) == ["0", "1", "2", "3"]
    reasons = {n: r.data.tags.get("runner.failure", "") for n, r in jobs.items()}
    statuses = {n: r.info.status for n, r in jobs.items()}
    # Hydra's order: the last override varies fastest
    assert statuses == {"0": "FAILED", "1": "FAILED", "2": "FAILED", "3": "FINISHED"}
    assert ALLOWED in reasons["0"] and ALLOWED in reasons["1"]
    assert "dataset.test_size=1.5" in reasons["2"]
    assert all(parent.data.tags[f"runner.job.{n}"] == r.info.run_id for n, r in jobs.items())
    versions = client.search_model_versions("name='synthetic-imbalanced-classifier'")
    assert [v.run_id for v in versions] == [jobs["3"].info.run_id]


SLOW_SWEEP = ("-m", "model=rf", "model.n_estimators=5,1000,7", "dataset.n_samples=5000")  # job 1 fits for seconds: signalled mid-fit


def interrupt(tmp_path: Path, store_uri: str, client, sig: int, *extra: str) -> subprocess.CompletedProcess:
    """Start the slow sweep, send `sig` to the launching process while job 1 is RUNNING, wait for it."""
    from runner.track import store

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


@pytest.mark.slow
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
    rows = {r["job"]: r for r in read_csv(latest_summary(tmp_path))}
    assert rows["0"]["status"] == "REUSED" and rows["0"]["run_id"] == first["0"]
    assert rows["1"]["status"] == "FINISHED" and rows["1"]["run_id"] != first["1"]
    assert rows["2"]["status"] == "FINISHED"


@pytest.mark.slow
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


@pytest.mark.slow
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



# ---- the same lifecycle in this process: start, jobs of the parent (job.run), close

@pytest.fixture
def in_process(store_copy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A composed sweep config whose folder is .../2026-01-02/10-11-12, on a copy of the session store; the module's
    sweep and the SIGTERM handler that start() installs are restored after."""
    from helpers import compose_with_hydra
    from runner.sweep import lifecycle

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(lifecycle, "_current", None)
    folder = tmp_path / "sweeps" / "2026-01-02" / "10-11-12"
    # the store: $MLFLOW_TRACKING_URI (the store_copy fixture sets it)
    config = compose_with_hydra([f"hydra.sweep.dir={folder}", "dataset.n_samples=300", "+extra.api_token=hunter2"])
    yield config, folder
    signal.signal(signal.SIGTERM, before)


def test_a_sweep_opens_its_parent_hands_it_to_jobs_and_closes_with_its_leaderboard(in_process, store_copy, model_store,
                                                                                    capsys) -> None:
    from runner.sweep import lifecycle
    from runner.track import names, runs

    config, folder = in_process
    client = store_copy.client
    sweep = lifecycle.start(config)
    assert lifecycle.current() is sweep and signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    parent = client.get_run(sweep.parent_run_id)
    assert parent.info.status == "RUNNING" and parent.info.run_name == "sweep 2026-01-02/10-11-12"
    assert parent.info.experiment_id == model_store.proper.info.experiment_id  # the config's experiment, found
    assert parent.data.tags[names.SWEEP] == "true" and parent.data.tags[names.SWEEP_DIR] == str(folder)
    assert parent.data.tags[names.OVERRIDES] == "dataset.n_samples=300 +extra.api_token=***"
    assert parent.data.params["overrides"] == "dataset.n_samples=300 +extra.api_token=***"
    handed = list(config.hydra.overrides.hydra)
    assert f"mlflow.parent_run_id={sweep.parent_run_id}" in handed and f"mlflow.tracking_uri='{store_copy.uri}'" in handed

    # its jobs: the session store's two trained runs as jobs 0 and 1, and a job refused before it started
    for num, run in enumerate((model_store.weak, model_store.proper)):
        client.set_tag(run.info.run_id, names.PARENT, sweep.parent_run_id)
        client.set_tag(run.info.run_id, names.JOB_NUM, str(num))
    runs.record_failed(client, sweep.experiment_id, "logreg+none", {names.PARENT: sweep.parent_run_id, names.JOB_NUM: "2"},
                       0, ValueError("model.C=-1.0: must be > 0"))
    folder.mkdir(parents=True)  # Hydra makes it; the leaderboard files go there too
    (folder / names.SEARCH_RESULT).write_text("name: optuna\nbest_params: {}\nbest_value: 0.75\n")
    capsys.readouterr()

    assert lifecycle.close() == 1 and lifecycle.close() == 1  # once: the second call only repeats the code
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1] == "1 of 3 jobs failed: job 2 FAILED: model.C=-1.0: must be > 0"
    assert f"files: {folder}/summary.csv, summary.md, comparison.png, report.html; parent run {sweep.parent_run_id}" in out
    assert f"search result: {folder / names.SEARCH_RESULT}" in out and "3 jobs by f1" in out
    parent = client.get_run(sweep.parent_run_id)
    assert parent.info.status == "FAILED" and parent.data.metrics["best_f1"] == 0.75
    assert {a.path for a in client.list_artifacts(sweep.parent_run_id)} == {
        "summary.csv", "summary.md", "comparison.png", "report.html", names.SEARCH_RESULT}
    summary = read_csv(folder / "summary.csv")
    assert [(r["job"], r["status"]) for r in summary] == [("1", "FINISHED"), ("0", "FINISHED"), ("2", "FAILED")]
    assert summary[0]["run_id"] == model_store.proper.info.run_id  # ranked by f1: the proper model first


def test_an_interrupted_sweep_kills_its_running_jobs_and_says_how_to_resume(in_process, store_copy, capsys) -> None:
    from runner.sweep import lifecycle
    from runner.track import names

    client = store_copy.client
    sweep = lifecycle.start(in_process[0])
    running = client.create_run(sweep.experiment_id, tags={names.PARENT: sweep.parent_run_id, names.JOB_NUM: "0"})
    assert lifecycle.close(interrupted=True, signum=signal.SIGTERM) == 143
    killed = client.get_run(running.info.run_id)
    assert killed.info.status == "KILLED" and killed.data.tags[names.FAILURE] == "interrupted"
    assert client.get_run(sweep.parent_run_id).info.status == "KILLED"
    assert capsys.readouterr().err.strip().endswith(
        "sweep interrupted: 1 jobs recorded; run the same command again to resume (finished jobs are reused)")


def test_a_sweep_stopped_outside_any_job_says_why_on_its_parent(in_process, store_copy) -> None:
    from runner.sweep import lifecycle
    from runner.track import names

    client = store_copy.client
    lifecycle.fail("nothing to do")  # no sweep yet: nothing to say it on
    sweep = lifecycle.start(in_process[0])
    lifecycle.fail("cannot compose model=svm; db=postgresql://alice:pw@db/x")
    parent = client.get_run(sweep.parent_run_id)
    assert parent.info.status == "FAILED"
    assert parent.data.tags[names.FAILURE] == "cannot compose model=svm; db=postgresql://***@db/x"
