"""Leaderboards, `python -m runner.review` and resume: real sweeps in subprocesses against a temp store."""
from __future__ import annotations

import math
import shutil

import pytest

from helpers import EXPERIMENT, job_runs, latest_summary, logged_models, read_csv

# On this data the three values rank differently by roc_auc than by f1, so the order shows which metric ranks.
SWEEP = ("-m", "model=logreg", "model.C=0.01,0.1,1.0", "dataset.n_samples=500", "optimized_metric=roc_auc")


def review(capsys, *argv: str) -> str:
    """`python -m runner.review ARGV` in this process (the store is $MLFLOW_TRACKING_URI); its stdout."""
    from runner.review import main

    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_leaderboard_review_and_resume(run_cli, client, tmp_path, capsys, monkeypatch) -> None:
    # 1. a sweep ranked by optimized_metric=roc_auc: leaderboard files in the sweep folder
    run_cli(*SWEEP)
    first_runs = {r.info.run_id: r for r in job_runs(client)}
    assert len(first_runs) == 3 and logged_models(client) == 3
    summary = latest_summary(tmp_path)
    folder = summary.parent
    assert {p.name for p in folder.iterdir()} >= {"summary.csv", "summary.md", "comparison.png"}
    rows = read_csv(summary)
    assert list(rows[0])[:6] == ["rank", "job", "model", "sampler", "overrides", "roc_auc"]
    scores = [float(r["roc_auc"]) for r in rows]
    assert len(rows) == 3 and scores == sorted(scores, reverse=True) and len(set(scores)) == 3
    f1s = [float(r["f1"]) for r in rows]
    assert f1s != sorted(f1s, reverse=True), "f1 would rank these jobs alike: the order proves nothing"
    for r in rows:  # each row is its run's logged metrics
        logged = first_runs[r["run_id"]].data.metrics
        assert math.isclose(float(r["roc_auc"]), logged["roc_auc"], abs_tol=5e-5)
        assert math.isclose(float(r["f1"]), logged["f1"], abs_tol=5e-5)
    md = (folder / "summary.md").read_text()
    assert "Sorted by `roc_auc`" in md and md.count("| FINISHED |") == 3
    assert "Overrides of all jobs: `dataset.n_samples=500 optimized_metric=roc_auc`" in md

    # 2. runner.review (a fresh process) rebuilds the same files from MLflow alone: sweep folder deleted
    original = {name: (folder / name).read_text() for name in ("summary.csv", "summary.md")}
    shutil.rmtree(tmp_path / "outputs" / "sweeps")
    proc = run_cli("--out", "rebuilt", module="runner.review")
    for name, text in original.items():
        assert (tmp_path / "rebuilt" / name).read_text() == text, name
    assert (tmp_path / "rebuilt" / "comparison.png").stat().st_size > 10_000
    assert "3 jobs by roc_auc" in proc.stdout
    out = review(capsys, "--experiment", EXPERIMENT, "--metric", "f1", "--top", "2", "--out", str(tmp_path / "top"))
    top_rows = read_csv(tmp_path / "top" / "summary.csv")
    best_f1 = sorted((r.data.metrics["f1"] for r in first_runs.values()), reverse=True)[:2]
    assert [float(r["f1"]) for r in top_rows] == [round(v, 4) for v in best_f1]
    assert "3 runs by f1 (top 2)" in out

    # 3. the identical command again: no new job run, no new model, every job REUSED with its metrics
    run_cli(*SWEEP)
    assert set(r.info.run_id for r in job_runs(client)) == set(first_runs) and logged_models(client) == 3
    again = read_csv(latest_summary(tmp_path))
    assert [r["status"] for r in again] == ["REUSED"] * 3
    assert [(r["run_id"], r["roc_auc"], r["f1"]) for r in again] == [(r["run_id"], r["roc_auc"], r["f1"]) for r in rows]

    # 4. one hyperparameter value changed: only that job trains
    changed = tuple("model.C=0.01,0.1,2.0" if a == "model.C=0.01,0.1,1.0" else a for a in SWEEP)
    run_cli(*changed)
    new = [r for r in job_runs(client) if r.info.run_id not in first_runs]
    assert [r.data.params["model.C"] for r in new] == ["2.0"] and logged_models(client) == 4
    resumed = read_csv(latest_summary(tmp_path))
    reused = [r for r in resumed if r["status"] == "REUSED"]
    assert len(reused) == 2 and all(r["run_id"] in first_runs for r in reused)
    assert sorted(r["overrides"].split()[0] for r in reused) == ["model.C=0.01", "model.C=0.1"]

    # 5. review of that resumed sweep from MLflow alone, in an 80-column terminal: reused jobs included
    shutil.rmtree(tmp_path / "outputs" / "sweeps")
    monkeypatch.setenv("COLUMNS", "80")
    out = review(capsys, "--out", str(tmp_path / "resumed"))
    assert read_csv(tmp_path / "resumed" / "summary.csv") == resumed
    lines = out[: out.index("files:")].splitlines()
    assert all(len(line) <= 80 for line in lines), out
    assert sum(" REUSED " in line + " " for line in lines) == 2
    assert "all jobs: dataset.n_samples=500 optimized_metric=roc_auc" in out


# ---- runner.cli.review in this process, on the session store (no sweep in it: experiments only)

def test_an_experiments_job_runs_are_ranked_from_mlflow_alone(model_store, tmp_path, capsys, monkeypatch) -> None:
    from runner.cli.review import main

    monkeypatch.setenv("COLUMNS", "200")  # whatever the worker's terminal, every column fits

    assert main(["--experiment", "synthetic-imbalanced", "--metric", "roc_auc", "--tracking-uri", model_store.uri,
                 "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "experiment synthetic-imbalanced: 2 runs by roc_auc" in out
    rows = read_csv(tmp_path / "out" / "summary.csv")
    proper, weak = model_store.proper, model_store.weak
    assert [r["run_id"] for r in rows] == [proper.info.run_id, weak.info.run_id]
    assert float(rows[0]["roc_auc"]) == round(proper.data.metrics["roc_auc"], 4)
    assert f"files: {tmp_path / 'out'}/summary.csv, summary.md, comparison.png" in out
    by_id = model_store.client.get_experiment_by_name("synthetic-imbalanced").experiment_id  # an id works too
    assert main(["--experiment", by_id, "--top", "1", "--tracking-uri", model_store.uri]) == 0
    out = capsys.readouterr().out
    assert "experiment synthetic-imbalanced: 2 runs by f1 (top 1)" in out
    assert model_store.proper.info.run_id[:8] in out and model_store.weak.info.run_id[:8] not in out


@pytest.mark.parametrize("argv, message", [
    (["--sweep", "0" * 32], "error: no run '00000000000000000000000000000000' in the store"),
    ([], "error: no sweep in the store yet (run `python run.py -m ...` first, or pick --experiment)"),
    (["--experiment", "nope"], "error: no experiment 'nope' in the store (experiments: "),
])
def test_nothing_to_review_is_one_line_and_code_2(model_store, capsys, argv, message: str) -> None:
    from runner.cli.review import main

    assert main([*argv, "--tracking-uri", model_store.uri]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_a_job_run_is_not_a_sweep_and_a_missing_store_is_not_created(model_store, tmp_path, capsys) -> None:
    from runner.cli.review import main

    assert main(["--sweep", model_store.iris.info.run_id, "--tracking-uri", model_store.uri]) == 2
    assert "is not a sweep's parent run (tag runner.sweep=true)" in capsys.readouterr().err
    missing = tmp_path / "none" / "mlflow.db"
    assert main(["--tracking-uri", f"sqlite:///{missing}"]) == 2
    assert capsys.readouterr().err.startswith(f"error: no MLflow store at {missing}") and not missing.parent.exists()
    with pytest.raises(SystemExit):
        main(["--top", "0", "--tracking-uri", model_store.uri])


def test_the_cyclic_collector_is_off_while_reviewing_and_restored_after() -> None:
    import gc

    from runner.cli.review import cyclic_gc_paused

    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), cyclic_gc_paused():  # also when the command fails
        raise KeyError("x")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # whoever turned it off keeps it off
    finally:
        gc.enable()
