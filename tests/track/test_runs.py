"""One job -> one MLflow run (runner.track.runs): always closed in a final state, logged in batches; a real SQLite store."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import mlflow
import pytest

from runner.errors import Terminated
from runner.track import names, runs, store

TAGS = {names.MODEL: "logreg", names.IDENTITY: "i" * 32}


@pytest.fixture
def experiment(client, store_uri: str) -> str:
    return store.prepare(store_uri, "runs")


def test_a_run_that_ends_normally_is_finished_and_spans_the_job(client, experiment: str) -> None:
    start = time.time() - 5  # the job started before its run was created
    with runs.job_run(client, experiment, "logreg+none", TAGS, start) as run:
        assert mlflow.active_run().info.run_id == run.info.run_id
    assert mlflow.active_run() is None
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "logreg+none"
    assert got.info.start_time == int(start * 1000) and got.info.end_time >= got.info.start_time + 5000
    assert got.data.tags[names.MODEL] == "logreg" and names.FAILURE not in got.data.tags


def test_a_run_that_raises_is_failed_with_a_redacted_one_line_reason_and_its_traceback(client, experiment: str) -> None:
    with pytest.raises(ValueError), runs.job_run(client, experiment, "x", TAGS, time.time()) as run:
        raise ValueError("cannot read\n  postgresql://alice:s3cret@db/x   today")
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FAILED"
    assert got.data.tags[names.FAILURE] == "cannot read postgresql://***@db/x today"
    trace = Path(client.download_artifacts(run.info.run_id, names.TRACEBACK)).read_text()
    assert trace.startswith("Traceback") and "ValueError: cannot read" in trace and "s3cret" not in trace
    assert mlflow.active_run() is None


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, "SIGTERM"])
def test_an_interrupted_run_is_killed(client, experiment: str, interrupt) -> None:
    expected = Terminated if interrupt == "SIGTERM" else KeyboardInterrupt
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(expected), runs.job_run(client, experiment, "x", TAGS, time.time()) as run:
        if interrupt == "SIGTERM":
            os.kill(os.getpid(), signal.SIGTERM)  # turned into Terminated while the run is open
            time.sleep(5)
        raise interrupt
    got = client.get_run(run.info.run_id)
    assert got.info.status == "KILLED" and got.data.tags[names.FAILURE] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is before  # the handler lives only as long as the run


def test_a_job_refused_before_it_started_is_recorded_failed(client, experiment: str) -> None:
    run_id = runs.record_failed(client, experiment, "rf+none", TAGS, time.time(), ValueError("model.C=-1: bad"))
    got = client.get_run(run_id)
    assert got.info.status == "FAILED" and got.data.tags[names.FAILURE] == "model.C=-1: bad"
    assert got.data.tags[names.MODEL] == "logreg" and got.info.run_name == "rf+none"
    assert "ValueError: model.C=-1: bad" in Path(client.download_artifacts(run_id, names.TRACEBACK)).read_text()


def test_log_job_writes_more_than_a_batch_of_params_and_tags_and_each_metric_once(client, experiment: str) -> None:
    run_id = client.create_run(experiment).info.run_id
    params = {f"p{i:03d}": str(i) for i in range(250)}
    tags = {f"t{i:03d}": i for i in range(130)}
    runs.log_job(client, run_id, params, {"f1": 0.5, "roc_auc": 1}, tags)
    got = client.get_run(run_id)
    assert got.data.params == params and got.data.metrics == {"f1": 0.5, "roc_auc": 1.0}
    assert {k: v for k, v in got.data.tags.items() if k.startswith("t")} == {k: str(v) for k, v in tags.items()}
    assert len(client.get_metric_history(run_id, "f1")) == 1


def test_find_finished_is_the_newest_finished_run_with_the_identity(client, experiment: str) -> None:
    def run(identity: str, status: str, start: int) -> str:
        r = client.create_run(experiment, start_time=start, tags={names.IDENTITY: identity})
        client.set_terminated(r.info.run_id, status)
        return r.info.run_id

    assert runs.find_finished(client, experiment, "a" * 32) is None
    run("a" * 32, "FINISHED", 1000)
    newest = run("a" * 32, "FINISHED", 2000)
    run("a" * 32, "FAILED", 3000)
    run("b" * 32, "FINISHED", 4000)
    assert runs.find_finished(client, experiment, "a" * 32).info.run_id == newest
    assert len(runs.all_runs(client, [experiment])) == 4
    assert len(runs.all_runs(client, [experiment], "attributes.status = 'FINISHED'")) == 3
