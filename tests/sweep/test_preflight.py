"""A sweep's preflight (runner.sweep.preflight, the runner's sweeper): every cell checked before the first fit.

Real `python run.py -m` subprocesses against a temp store.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import RUN_PY, runs_of

# eight cells, four invalid (C <= 0), interleaved with valid ones
GRID = ("-m", "sampler=none,random-over", "model.C=1,-1,2,-2", "dataset.n_samples=300")
INVALID = {"1", "3", "5", "7"}


def test_cells_are_launched_in_runs_of_consecutive_numbers() -> None:
    from hydra_plugins.runner_plugins.sweeper import contiguous

    cells = [(0, ["a"]), (2, ["b"]), (3, ["c"]), (6, ["d"])]
    assert contiguous(cells) == [[(0, ["a"])], [(2, ["b"]), (3, ["c"])], [(6, ["d"])]]
    assert contiguous([]) == []


def test_the_default_sweeper_is_the_runners_and_optuna_still_wins() -> None:
    from helpers import compose_with_hydra

    assert compose_with_hydra([]).hydra.sweeper._target_.endswith("runner_plugins.sweeper.PreflightBasicSweeper")
    assert "optuna" in compose_with_hydra(["hparams_search=xgb-optuna"]).hydra.sweeper._target_


def _sweep(tmp_path: Path, store_uri: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri, "COLUMNS": "200"}
    return subprocess.run([sys.executable, str(RUN_PY), *args], cwd=tmp_path, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)


@pytest.mark.slow
def test_invalid_cells_are_listed_together_before_the_first_fit(client, store_uri: str, tmp_path: Path) -> None:
    proc = _sweep(tmp_path, store_uri, *GRID)
    out = proc.stdout
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    title = out.index("preflight: 4 of 8 jobs are invalid and will not run")
    # the table comes before any job starts (the launcher's job lines and the jobs' own log lines)
    assert title < out.index("\t#0 : ") and title < out.index("runner.job.run")
    table = out[title:out.index("preflight: 4 of 8 cells valid")]
    assert all(f"model.C=-{c} " in table for c in (1, 2)) and "model.C=1 " not in table and "model.C=2 " not in table
    assert "'C' parameter" in table

    jobs, (parent,) = runs_of(client)
    by_num = {r.data.tags["runner.job_num"]: r for r in jobs}
    assert sorted(by_num) == [str(n) for n in range(8)]  # the full grid's numbers
    for num, run in by_num.items():
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert parent.data.tags[f"runner.job.{num}"] == run.info.run_id
        if num in INVALID:
            assert run.info.status == "FAILED" and "'C' parameter" in run.data.tags["runner.failure"]
            assert " model.C=-" in run.data.tags["runner.overrides"]
        else:
            assert run.info.status == "FINISHED" and "f1" in run.data.metrics
    assert parent.info.status == "FAILED"
    last = out.strip().splitlines()[-1]
    assert last.startswith("4 of 8 jobs failed: job 1 FAILED: model.C=-1: ")
    # no invalid cell reached a job: its folder was never made
    sweep_dir = Path(parent.data.tags["runner.sweep_dir"])
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == ["0", "2", "4", "6"]


@pytest.mark.slow
def test_a_cell_hydra_cannot_compose_and_a_data_check_are_reported_the_same_way(client, store_uri, tmp_path) -> None:
    proc = _sweep(tmp_path, store_uri, "-m", "model=logreg,nope", "sampler=none,smotetomek", "dataset.n_samples=40")
    out = proc.stdout
    assert proc.returncode == 1 and "Traceback" not in out, out
    assert "preflight: 3 of 4 jobs are invalid" in out
    jobs, (parent,) = runs_of(client)
    by_num = {r.data.tags["runner.job_num"]: r for r in jobs}
    assert by_num["0"].info.status == "FINISHED"
    assert "SMOTE needs more than k_neighbors" in by_num["1"].data.tags["runner.failure"]
    for num in "23":
        assert by_num[num].info.status == "FAILED"
        assert by_num[num].data.tags["runner.failure"].startswith("model=nope: no such model config")
        assert by_num[num].data.tags["runner.model"] == "nope"


@pytest.mark.slow
def test_preflight_off_restores_per_job_discovery(client, store_uri: str, tmp_path: Path) -> None:
    proc = _sweep(tmp_path, store_uri, *GRID, "runner.preflight=false")
    out = proc.stdout
    assert proc.returncode == 1 and "Traceback" not in out, out
    assert "will not run" not in out and "cells valid" not in out  # no preflight table, no preflight line
    jobs, (parent,) = runs_of(client)
    by_num = {r.data.tags["runner.job_num"]: r for r in jobs}
    assert {n for n, r in by_num.items() if r.info.status == "FAILED"} == INVALID
    # each invalid job was launched and found its own mistake: its folder exists
    sweep_dir = Path(parent.data.tags["runner.sweep_dir"])
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == [str(n) for n in range(8)]
