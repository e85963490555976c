"""The leaderboard's uncertainty: intervals, `vs best` marks (paired tests + Holm) and their note.

Real jobs (in this process, and `python run.py -m` for the end-to-end case) on real temp SQLite stores; the
marks' p-values are recomputed independently from the logged parquet files and per-fold histories.
"""
from __future__ import annotations

import io
import math
import re
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers import EXPERIMENT, db_path, latest_summary, read_csv, train
from runner.sweep import compare, leaderboard, render
from runner.track import names
from runner.train.uncertainty import corrected_resampled_t, holm, paired_bootstrap

N = "dataset.n_samples=600"
CV = ("eval=cv", "eval.folds=3", "eval.repeats=1")
# The jobs of the shared board: four on the same split, two on others (test size, seed)
SAME_SPLIT = {"logreg": ("model=logreg",), "rf": ("model=rf",), "xgb": ("model=xgb",),
              "weak": ("model=logreg", "model.C=0.001")}
OTHER_ROWS = {"test_size": ("model=xgb", "dataset.test_size=0.25"), "seed": ("model=logreg", "model.C=0.001", "seed=7")}
BOARD_JOBS = {**SAME_SPLIT, **OTHER_ROWS}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> SimpleNamespace:
    """Six holdout jobs trained once for this module on a temp store (tests read it, never change it).

    Attributes: uri, client, runs (name -> run id).
    """
    import mlflow

    folder = tmp_path_factory.mktemp("board")
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    db_path(uri).parent.mkdir(parents=True)
    shutil.copyfile(mlflow_template, db_path(uri))
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(folder)
        client = mlflow.MlflowClient(uri)
        try:
            for name, overrides in BOARD_JOBS.items():
                train(uri, N, *overrides)
                (latest,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id],
                                               order_by=["attributes.start_time DESC"], max_results=1)
                runs[name] = latest.info.run_id
        finally:
            mlflow.set_tracking_uri(None)
    return SimpleNamespace(uri=uri, client=client, runs=runs)


def ranked(client, run_ids, metric: str) -> list[leaderboard.Row]:
    return leaderboard.sort([leaderboard.row_of(client.get_run(r)) for r in run_ids], metric)


def holdout_predictions(client, run_id: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_parquet(client.download_artifacts(run_id, "predictions/holdout.parquet", tmp))


def expected_p_values(client, best: str, others: list[str], metric: str) -> dict[str, float]:
    """Holm-adjusted p of "best better than each", recomputed from the parquet files alone."""
    ours = holdout_predictions(client, best).set_index("row").sort_index()
    proba_cols = [c for c in ours.columns if c.startswith("proba_")]
    classes = np.array([int(c.removeprefix("proba_")) for c in proba_cols])
    raw = []
    for run_id in others:
        theirs = holdout_predictions(client, run_id).set_index("row").loc[ours.index]
        assert (theirs["label"] == ours["label"]).all()
        result = paired_bootstrap(ours["label"].to_numpy(), (theirs["prediction"].to_numpy(), theirs[proba_cols].to_numpy()),
                                  (ours["prediction"].to_numpy(), ours[proba_cols].to_numpy()), classes, metric,
                                  n_resamples=1000, seed=0)
        assert result.delta == pytest.approx(client.get_run(best).data.metrics[metric]
                                             - client.get_run(run_id).data.metrics[metric], abs=1e-12)
        raw.append(result.p_value)
    return dict(zip(others, holm(raw), strict=True))


@pytest.mark.slow  # six trained jobs in this process
@pytest.mark.parametrize("metric", ["f1", "roc_auc"])
def test_marks_are_the_holm_adjusted_paired_bootstrap_against_the_best(board, metric: str) -> None:
    client = board.client
    rows = ranked(client, board.runs.values(), metric)
    verdict = compare.mark(client, rows, metric)
    by_name = {name: next(r for r in rows if r.run_id == run_id) for name, run_id in board.runs.items()}

    # the best is the first row; it is one of the same-split jobs here (else nothing would be compared)
    best = rows[0]
    assert best.vs_best == "best" and math.isnan(best.p_adjusted)
    assert best.run_id in [board.runs[n] for n in SAME_SPLIT], "the board's best is on another split: no test"
    # jobs scored on other rows (another test size, another seed) are not compared
    assert by_name["test_size"].vs_best == by_name["seed"].vs_best == "n/c"
    assert all(math.isnan(by_name[n].p_adjusted) for n in OTHER_ROWS)

    # every other same-split job: p equals an independent recomputation, mark by alpha
    others = [r for r in rows[1:] if r.run_id in [board.runs[n] for n in SAME_SPLIT]]
    expected = expected_p_values(client, best.run_id, [r.run_id for r in others], metric)
    for r in others:
        assert r.p_adjusted == pytest.approx(expected[r.run_id], abs=1e-12)
        assert r.vs_best == ("tied" if r.p_adjusted >= 0.05 else "worse")
    assert verdict.test == compare.BOOTSTRAP and verdict.compared == 3 and verdict.n_rows == 180
    if metric == "f1":  # not vacuous: the board has both a tied and a worse job
        assert {r.vs_best for r in others} == {"tied", "worse"}
        assert by_name["weak"].vs_best == "worse"


@pytest.mark.slow  # six trained jobs in this process
def test_the_terminal_the_files_and_the_note(board, tmp_path: Path) -> None:
    from rich.console import Console

    client = board.client
    rows = ranked(client, board.runs.values(), "f1")
    verdict = compare.mark(client, rows, "f1")
    best = rows[0]
    low, high = (client.get_run(best.run_id).data.metrics[f"f1_{k}"] for k in ("ci_low", "ci_high"))
    cell = f"{best.metrics['f1']:.3f} [{low:.3f}, {high:.3f}]"

    out = Console(file=io.StringIO(), width=160)
    render.print_table(rows, "f1", "board", out=out, verdict=verdict)
    text = out.file.getvalue()
    header = next(line for line in text.splitlines() if " vs best " in line)
    assert header.split()[:7] == ["rank", "job", "model", "sampler", "f1", "vs", "best"]
    best_line = next(line for line in text.splitlines() if best.run_id[:8] in line)
    assert cell in best_line and " best " in best_line
    for r in rows[1:]:
        line = next(line for line in text.splitlines() if r.run_id[:8] in line)
        mark = f"{r.vs_best} p={r.p_adjusted:.3f}" if r.p_adjusted >= 0.001 else f"{r.vs_best} p<0.001"
        assert (mark if not math.isnan(r.p_adjusted) else f" {r.vs_best} ") in line, line
    flat = " ".join(text.split())
    assert "[low, high]: 95% bootstrap interval on the held-out rows (stratified, 1000 resamples)" in flat
    assert ("paired bootstrap of the f1 difference on the same 180 held-out rows (1000 resamples), "
            "one-sided p with Holm's correction over 3 jobs, α=0.05") in flat
    assert "n/c: scored on other rows" in flat

    render.write_all(rows, "f1", tmp_path, "board", verdict)
    csv_rows = read_csv(tmp_path / "summary.csv")
    assert list(csv_rows[0]) == ["rank", "job", "model", "sampler", "overrides", "f1", "roc_auc", "average_precision",
                                 "balanced_accuracy", "accuracy", "precision", "recall", "f1_ci_low", "f1_ci_high",
                                 "vs_best", "p_adjusted", "fit_seconds", "status", "run_id", "reason"]
    for rec, r in zip(csv_rows, rows, strict=True):
        logged = client.get_run(r.run_id).data.metrics
        assert rec["run_id"] == r.run_id and rec["vs_best"] == r.vs_best
        assert float(rec["f1_ci_low"]) == pytest.approx(logged["f1_ci_low"], abs=5e-5)
        assert float(rec["f1_ci_high"]) == pytest.approx(logged["f1_ci_high"], abs=5e-5)
        assert rec["p_adjusted"] == ("" if math.isnan(r.p_adjusted) else f"{r.p_adjusted:.4f}")
    md = (tmp_path / "summary.md").read_text()
    assert "| f1_ci_low | f1_ci_high | vs_best | p_adjusted |" in md
    assert "Holm's correction over 3 jobs" in md and "- [low, high]: 95% bootstrap interval" in md
    assert (tmp_path / "comparison.png").stat().st_size > 10_000


@pytest.mark.slow  # six trained jobs in this process
@pytest.mark.parametrize("width", [160, 85, 70])
def test_a_narrow_terminal_drops_columns_then_the_p_value_then_the_interval(board, width: int) -> None:
    from rich.console import Console

    rows = ranked(board.client, board.runs.values(), "f1")
    verdict = compare.mark(board.client, rows, "f1")
    out = Console(file=io.StringIO(), width=width)
    render.print_table(rows, "f1", "board", out=out, verdict=verdict)
    text = out.file.getvalue()
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), text
    assert "…" not in text  # nothing cut: whole columns were dropped (or cells shortened) instead
    best_line = lines[next(i for i, line in enumerate(lines) if "───" in line) + 1]  # the first row
    assert re.search(r" {3}best {3}", best_line) and "FINISHED" in best_line and sum(" n/c " in line + " " for line in lines) == 2
    interval = re.search(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", best_line)
    if width == 160:  # everything: interval, p-values, other metrics, run ids
        assert interval and "p=" in text and rows[0].run_id[:8] in best_line and "roc_auc" in text
    elif width == 85:  # the interval stays; the p-values, other metrics and run ids go
        assert interval and "p=" not in text and "roc_auc" not in text and rows[0].run_id[:8] not in best_line
    else:  # the value alone, and the mark
        assert not interval and re.search(r" \d\.\d{3} ", best_line)


def fold_scores(client, run_id: str, metric: str) -> np.ndarray:
    history = sorted(client.get_metric_history(run_id, f"cv_{metric}"), key=lambda m: m.step)
    return np.array([m.value for m in history])


@pytest.mark.slow  # five cross-validated jobs in this process: ~10 s
def test_cv_jobs_rank_by_their_cv_mean_and_compare_by_the_corrected_t_on_shared_folds(client, store_uri: str) -> None:
    from runner.registry.policy import Policy

    for model in ("logreg", "rf", "xgb"):
        train(store_uri, N, f"model={model}", *CV)
    train(store_uri, N, "model=logreg", "eval=cv", "eval.folds=3", "eval.repeats=2")  # other folds
    train(store_uri, N, "model=rf")                           # another evaluation
    exp = client.get_experiment_by_name(EXPERIMENT).experiment_id
    runs = client.search_runs([exp], order_by=["attributes.start_time ASC"])
    *cv_runs, other_folds, holdout = runs
    rows = ranked(client, [r.info.run_id for r in runs], "f1")

    # ranked by cv_f1_mean (what the jobs returned), not by the held-out f1 of the refit
    cv_rows = [r for r in rows if r.eval_kind == "cv" and r.params["eval.repeats"] == "1"]
    means = [client.get_run(r.run_id).data.metrics["cv_f1_mean"] for r in cv_rows]
    assert means == sorted(means, reverse=True) and [r.rank_value("f1") for r in cv_rows] == means
    assert cv_rows[0].rank_interval("f1") == (client.get_run(cv_rows[0].run_id).data.metrics["cv_f1_ci_low"],
                                              client.get_run(cv_rows[0].run_id).data.metrics["cv_f1_ci_high"])

    verdict = compare.mark(client, rows, "f1")
    by_id = {r.run_id: r for r in rows}
    assert rows[0].eval_kind == "cv", "a holdout job ranks first: the cv comparison would not run"
    best = rows[0]
    assert best.vs_best == "best" and best.params["eval.repeats"] == "1"
    assert by_id[other_folds.info.run_id].vs_best == "n/c" and by_id[holdout.info.run_id].vs_best == "n/c"
    # independent recomputation: per-fold history, fold sizes from the 420 training rows (3 folds of 140)
    others = [r for r in cv_rows if r is not best]
    diffs = [fold_scores(client, best.run_id, "f1") - fold_scores(client, r.run_id, "f1") for r in others]
    assert all(len(d) == 3 for d in diffs)
    raw = [corrected_resampled_t(d.tolist(), 280, 140).p_value_one_sided for d in diffs]
    for r, p in zip(others, holm(raw), strict=True):
        assert r.p_adjusted == pytest.approx(p, abs=1e-12)
        assert r.vs_best == ("tied" if p >= 0.05 else "worse")
    assert verdict.test == compare.CORRECTED_T and verdict.compared == 2 and verdict.folds == "3x1"
    note = " ".join(compare.note(rows, "f1", verdict))
    assert "corrected resampled t-test (Nadeau & Bengio) of the per-fold f1 differences on the same 3x1 folds" in note
    assert "Holm's correction over 2 jobs" in note and "f1*: the held-out f1, or cv_f1_mean for eval=cv jobs" in note

    # registry.register=best picks the job ranked first: the best cv mean
    Policy("best", "cv-best", False, "f1", True).after_sweep(client, store_uri, rows)
    (version,) = client.search_model_versions("name='cv-best'")
    assert version.run_id == best.run_id


@pytest.mark.slow  # six trained jobs in this process
def test_runs_logged_before_intervals_and_predictions_show_without_them(client, store_uri: str, tmp_path: Path) -> None:
    """Old runs: no interval, no predictions, maybe no data digest; marked `-`, never a crash."""
    from rich.console import Console

    train(store_uri, N)
    (job,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    exp = job.info.experiment_id
    same_split = {k: job.data.params[k] for k in ("dataset.test_size", "dataset.random_state", "seed")}

    def old_run(f1: float, digest: bool = True, status: str = "FINISHED") -> str:
        tags = {names.MODEL: "rf", names.SAMPLER: "none", names.DATASET: EXPERIMENT}
        if digest:
            tags[names.DATA_DIGEST] = job.data.tags[names.DATA_DIGEST]
        run_id = client.create_run(exp, tags=tags).info.run_id
        for k, v in same_split.items():
            client.log_param(run_id, k, v)
        if status == "FINISHED":
            client.log_metric(run_id, "f1", f1)
        client.set_terminated(run_id, status)
        return run_id

    worse_old, no_digest, failed = old_run(0.1), old_run(0.2, digest=False), old_run(0.0, status="FAILED")
    rows = ranked(client, [job.info.run_id, worse_old, no_digest, failed], "f1")
    compare.mark(client, rows, "f1")
    assert [(r.run_id, r.vs_best) for r in rows] == [(job.info.run_id, "best"), (no_digest, "-"), (worse_old, "-"),
                                                     (failed, "")]

    best_old = old_run(0.99)  # the best has neither interval nor predictions: nothing is compared
    rows = ranked(client, [job.info.run_id, worse_old, best_old, failed], "f1")
    verdict = compare.mark(client, rows, "f1")
    assert [r.vs_best for r in rows] == ["best", "-", "-", ""] and rows[0].run_id == best_old
    out = Console(file=io.StringIO(), width=160)
    render.print_table(rows, "f1", "old", out=out, verdict=verdict)
    text = out.file.getvalue()
    best_line = next(line for line in text.splitlines() if best_old[:8] in line)
    assert " 0.990 " in best_line and "[" not in best_line
    assert "-: not comparable from its records" in " ".join(text.split())
    render.write_all(rows, "f1", tmp_path, "old", verdict)
    first = read_csv(tmp_path / "summary.csv")[0]
    assert (first["f1"], first["f1_ci_low"], first["f1_ci_high"], first["vs_best"]) == ("0.9900", "", "", "best")


@pytest.mark.slow
def test_a_sweep_and_its_review_show_intervals_marks_and_the_note(run_cli, client, tmp_path: Path) -> None:
    proc = run_cli("-m", "model=logreg,rf,xgb", N, "dataset.test_size=0.3,0.25", env={"COLUMNS": "200"})
    runs = {r.info.run_id: r for r in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])}
    rows = read_csv(latest_summary(tmp_path))
    assert len(rows) == 6 and rows[0]["vs_best"] == "best"
    best_split = runs[rows[0]["run_id"]].data.params["dataset.test_size"]
    for rec in rows:
        logged = runs[rec["run_id"]].data.metrics
        assert float(rec["f1_ci_low"]) == pytest.approx(logged["f1_ci_low"], abs=5e-5)
        assert float(rec["f1_ci_high"]) == pytest.approx(logged["f1_ci_high"], abs=5e-5)
        if rec is rows[0]:
            continue
        if runs[rec["run_id"]].data.params["dataset.test_size"] != best_split:
            assert rec["vs_best"] == "n/c" and rec["p_adjusted"] == ""
        else:
            assert rec["vs_best"] == ("tied" if float(rec["p_adjusted"]) >= 0.05 else "worse")
    assert [r["vs_best"] for r in rows].count("n/c") == 3

    out = proc.stdout
    table = out[out.index("6 jobs by f1"): out.index("files:")]
    best = runs[rows[0]["run_id"]].data.metrics
    assert f"{best['f1']:.3f} [{best['f1_ci_low']:.3f}, {best['f1_ci_high']:.3f}]" in table
    flat = " ".join(table.split())
    assert "[low, high]: 95% bootstrap interval on the held-out rows" in flat
    assert "paired bootstrap of the f1 difference" in flat and "Holm's correction over 2 jobs" in flat
    assert "n/c: scored on other rows" in flat
    md = next(latest_summary(tmp_path).parent.glob("summary.md")).read_text()
    assert "Holm's correction over 2 jobs" in md

    # python -m runner.review (a fresh process, MLflow alone) prints the same table, marks and note
    review = run_cli(module="runner.review", env={"COLUMNS": "200"}).stdout
    assert review[review.index("6 jobs by f1"):].rstrip() == table.rstrip()
