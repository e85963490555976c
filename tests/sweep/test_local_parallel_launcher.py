"""launcher=local-parallel (hydra_plugins/runner_plugins/joblib_launcher.py): a dead worker costs its job only.

Real `python run.py -m` subprocesses, real loky workers, a real SIGKILL: the worker running job 0 is found
by its pid (the process of the launching command holding job 0's log file open, the job's folder read off
its run's `runner.output_dir` tag) and killed mid-fit.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import EXPERIMENT, RUN_PY, compose_with_hydra, runs_of

# job 0 fits long enough to be killed mid-fit; jobs 1-3 take a few seconds
SWEEP = ("-m", "launcher=local-parallel", "model=rf", "model.n_estimators=60,5,6,7", "dataset.n_samples=100000")
DIED = "worker process died (SIGKILL)"


def test_the_preset_is_the_runners_launcher_with_hydras_joblib_options() -> None:
    from hydra.utils import instantiate

    from hydra_plugins.runner_plugins.joblib_launcher import ResilientJoblibLauncher

    cfg = compose_with_hydra(["launcher=local-parallel"])
    launcher = instantiate(cfg.hydra.launcher)
    assert isinstance(launcher, ResilientJoblibLauncher)
    assert "JoblibLauncher" in [c.__name__ for c in type(launcher).__mro__[1:]]  # Hydra's, extended
    assert launcher.joblib["n_jobs"] == 2
    assert compose_with_hydra(["launcher=ray"]).hydra.launcher.ray.remote.max_retries == 0  # Ray: no silent retries


def test_how_a_worker_ended_reads() -> None:
    from hydra_plugins.runner_plugins.joblib_launcher import _exit_codes_in, signal_name

    assert signal_name(-9) == "SIGKILL" and signal_name(-15) == "SIGTERM" and signal_name(3) == "exit code 3"
    assert signal_name(None) == "unknown cause"
    assert _exit_codes_in("... The exit codes of the workers are {SIGKILL(-9)}") == [-9]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _worker_of(launcher_pid: int, job_folder: str) -> int | None:
    """The launching process's child that has the job's log file open: the worker running that job."""
    for child in _children(launcher_pid):
        try:
            fds = list(Path(f"/proc/{child}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd).startswith(job_folder + os.sep):
                    return child
            except OSError:
                continue
    return None


@pytest.mark.slow
def test_a_killed_worker_fails_its_job_and_the_sweep_goes_on(client, store_uri: str, tmp_path: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri}
    proc = subprocess.Popen([sys.executable, str(RUN_PY), *SWEEP], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        victim, deadline = None, time.time() + 180
        while victim is None and time.time() < deadline:
            assert proc.poll() is None, proc.communicate()
            exp = client.get_experiment_by_name(EXPERIMENT)
            running = [] if exp is None else client.search_runs(
                [exp.experiment_id], filter_string="attributes.status = 'RUNNING' and tags.`runner.job_num` = '0'")
            if running:
                victim = _worker_of(proc.pid, running[0].data.tags["runner.output_dir"])
            if victim is None:
                time.sleep(0.2)
        assert victim is not None, "job 0 never ran in a worker"
        time.sleep(1.0)  # inside its fit
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out + err
    assert "Traceback" not in out + err and "TerminatedWorkerError" not in out + err, out + err
    assert err.strip().splitlines()[-1] == f"1 of 4 jobs failed: job 0 FAILED: {DIED}"

    jobs, (parent,) = runs_of(client)
    assert parent.info.status == "FAILED"
    assert not [r for r in jobs if r.info.status == "RUNNING"]  # no run left RUNNING
    by_num = {r.data.tags["runner.job_num"]: r for r in jobs}
    assert len(by_num) == len(jobs) == 4  # one run per job: a cancelled job's half-made run is gone
    assert by_num["0"].info.status == "FAILED" and by_num["0"].data.tags["runner.failure"] == DIED
    assert [by_num[n].info.status for n in "123"] == ["FINISHED"] * 3
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in jobs)
    assert parent.data.tags["runner.job.0"] == by_num["0"].info.run_id
    assert f"job 0 FAILED (run {by_num['0'].info.run_id[:8]}): {DIED}" in out  # under the leaderboard

    # the same command again trains only the lost job; the others are reused
    again = subprocess.run([sys.executable, str(RUN_PY), *SWEEP], cwd=tmp_path, env=env, text=True,
                           capture_output=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    jobs2, parents = runs_of(client)
    (second,) = [p for p in parents if p.info.run_id != parent.info.run_id]
    (trained,) = [r for r in jobs2 if r.data.tags.get("mlflow.parentRunId") == second.info.run_id]
    assert trained.data.tags["runner.job_num"] == "0" and trained.info.status == "FINISHED"
    assert {second.data.tags[f"runner.reused.{n}"] for n in "123"} == {by_num[n].info.run_id for n in "123"}
    assert second.info.status == "FINISHED"
