"""A sweep's leaderboard read from MLflow (runner.sweep.leaderboard): rows, ranking, failures, shared overrides."""
from __future__ import annotations

import math

import pytest

from helpers import hand_made_sweep
from runner.sweep import leaderboard
from runner.sweep.leaderboard import Row
from runner.track import names


def row(job: str, f1: float | None = None, status: str = "FINISHED", overrides: str = "", reused: bool = False,
        reason: str = "", run_id: str | None = None) -> Row:
    metrics = {} if f1 is None else {"f1": f1, "roc_auc": 1 - f1}
    return Row(job, run_id or f"run{job}", "logreg", "none", "d", overrides, status, reused, reason, metrics=metrics)


def test_sort_ranks_best_first_and_runs_without_the_metric_last_in_job_order() -> None:
    rows = [row("10", None, "FAILED"), row("2", 0.5), row("0", 0.9), row("3", None, "KILLED"), row("1", 0.5, run_id="a"),
            row("-", 0.7, run_id="single")]
    assert [r.job for r in leaderboard.sort(rows, "f1")] == ["0", "-", "1", "2", "3", "10"]  # ties: job order
    assert [r.job for r in leaderboard.sort(rows, "roc_auc")] == ["1", "2", "-", "0", "3", "10"]
    assert leaderboard.sort([], "f1") == []


def test_failures_and_their_one_line_summary() -> None:
    rows = [row("0", 0.9), row("2", None, "KILLED", reason="interrupted"), row("1", None, "FAILED"),
            row("3", 0.8, reused=True), row("4", None, "FAILED", reused=True)]
    assert [r.job for r in leaderboard.failures(rows)] == ["1", "2"]  # a reused run failed elsewhere, not here
    assert leaderboard.failure_summary(rows) == (
        "2 of 5 jobs failed: job 1 FAILED: no reason recorded; job 2 KILLED: interrupted")
    assert leaderboard.failure_summary(rows[:1]) == ""


def test_overrides_every_job_shares_are_said_once() -> None:
    rows = [row("0", overrides="model.C=0.1 dataset.n_samples=500 seed=1"),
            row("1", overrides="model.C=1.0 dataset.n_samples=500 seed=1"),
            row("2", overrides="seed=1 dataset.n_samples=500")]
    common = leaderboard.common_overrides(rows)
    assert common == ["dataset.n_samples=500", "seed=1"]
    assert [leaderboard.varying(r, common) for r in rows] == ["model.C=0.1", "model.C=1.0", ""]
    assert leaderboard.common_overrides(rows[:1]) == []  # one job: nothing to factor out


def test_a_row_says_itself() -> None:
    r = row("3", 0.5, overrides="model.C=2", reused=True)
    assert (r.shown_status, r.label) == ("REUSED", "#3 logreg+none model.C=2")
    assert row("4").label == "#4 logreg+none" and row("4").shown_status == "FINISHED"
    assert leaderboard.metric_columns("roc_auc")[:3] == ["roc_auc", "f1", "average_precision"]
    assert leaderboard.metric_columns("f1") == list(leaderboard.SHOWN_METRICS)


def test_row_of_a_real_run_reads_its_tags_metrics_and_params(model_store) -> None:
    run = model_store.proper
    r = leaderboard.row_of(run)
    assert (r.job, r.run_id, r.status, r.reused) == ("-", run.info.run_id, "FINISHED", False)
    assert (r.model, r.sampler, r.dataset) == ("LogisticRegression", "none", "synthetic-imbalanced")
    assert r.metrics == {k: v for k, v in run.data.metrics.items() if k in leaderboard.MAIN_METRICS}
    assert r.fit_seconds == run.data.metrics["fit_seconds"] and r.reason == ""
    assert r.params["dataset.test_size"] == "0.3" and r.data_digest == run.data.tags[names.DATA_DIGEST]
    assert r.train_rows == 210  # 70% of 300 rows: its logged training input
    assert r.artifact_uri == run.info.artifact_uri and r.artifact_uri  # where its predictions are read from
    low, high = r.intervals["f1"]
    assert low <= r.metrics["f1"] <= high
    assert leaderboard.row_of(run, job="7", reused=True).shown_status == "REUSED"


@pytest.fixture
def sweep_store(client, store_uri: str) -> dict:
    return hand_made_sweep(client, store_uri)


def test_a_sweeps_rows_are_its_children_and_the_runs_it_reused(client, sweep_store) -> None:
    parent = client.get_run(sweep_store["parent"])
    rows = leaderboard.sweep_rows(client, parent)  # the vanished reused run is left out (with a warning)
    by_job = {r.job: r for r in rows}
    assert sorted(by_job) == ["0", "1", "2"]
    assert by_job["2"].reused and by_job["2"].run_id == sweep_store["earlier"] and by_job["2"].overrides == "model.C=2"
    assert by_job["0"].overrides == "model.C=0.1" and by_job["1"].status == "FAILED"  # group choices have columns
    assert leaderboard.latest_sweep(client).info.run_id == sweep_store["parent"]
    assert leaderboard.latest_sweep(client, [sweep_store["experiment"]]).info.run_id == sweep_store["parent"]
    assert leaderboard.sweep_title(parent, 3, "f1") == "sweep 2026-01-02/10-11-12: 3 jobs by f1"
    assert len(leaderboard.experiment_rows(client, sweep_store["experiment"])) == 3  # every run but the sweeps
    ranked = leaderboard.sort(rows, "f1")
    assert [r.job for r in ranked] == ["2", "0", "1"] and math.isnan(ranked[-1].rank_value("f1"))


def test_a_store_without_a_sweep(client) -> None:
    assert leaderboard.latest_sweep(client) is None and leaderboard.latest_sweep(client, []) is None
