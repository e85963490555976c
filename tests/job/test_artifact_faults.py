"""An artifact write that fails: the job is FAILED with one line naming the path and the OS error, nothing is
registered, and the other jobs of a sweep go on.

The fault is real: the experiment's artifact location lies beneath an existing regular file, which no process
(root included) can create a folder in.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import EXPERIMENT, assert_one_line_error, job_runs, runs_of
from runner.track import names, store


def unwritable_experiment(client, tmp_path: Path, name: str) -> Path:
    """Experiment `name` whose artifacts would go beneath a regular file; returns that file."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file, not a folder\n")
    client.create_experiment(name, artifact_location=(blocker / "artifacts").as_uri())
    return blocker


@pytest.mark.slow
def test_a_job_that_cannot_write_its_artifacts_fails_in_one_line(run_cli, client, tmp_path: Path) -> None:
    blocker = unwritable_experiment(client, tmp_path, EXPERIMENT)
    proc = run_cli("dataset.n_samples=300", "registry.register=true", check=False)
    line = assert_one_line_error(proc, str(blocker), "Not a directory")
    assert "Traceback" not in proc.stdout
    (run,) = job_runs(client)
    assert run.info.status == "FAILED"
    assert str(blocker) in run.data.tags[names.FAILURE] and "Not a directory" in run.data.tags[names.FAILURE]
    assert run.info.run_id in line
    assert client.search_model_versions("name='synthetic-imbalanced-classifier'") == []


@pytest.mark.slow
def test_the_other_jobs_of_a_sweep_go_on(run_cli, client, store_uri, tmp_path: Path) -> None:
    """Iris's experiment cannot hold artifacts; the synthetic job of the same sweep (whose experiment also holds
    the sweep's parent run and its files) finishes and is registered."""
    store.prepare(store_uri, EXPERIMENT)
    blocker = unwritable_experiment(client, tmp_path, "iris")
    proc = run_cli("-m", "dataset=iris,synthetic-imbalanced", "registry.register=true", check=False)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    (iris,) = job_runs(client, "iris")
    assert iris.info.status == "FAILED" and str(blocker) in iris.data.tags[names.FAILURE]
    (line,) = [line for line in (proc.stdout + proc.stderr).splitlines() if "job 0 failed" in line]
    assert str(blocker) in line and "Not a directory" in line
    assert client.search_model_versions("name='iris-classifier'") == []
    jobs, _ = runs_of(client, EXPERIMENT)
    (synthetic,) = jobs
    assert synthetic.info.status == "FINISHED"
    (version,) = client.search_model_versions("name='synthetic-imbalanced-classifier'")
    assert version.run_id == synthetic.info.run_id
