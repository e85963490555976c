"""report.html (runner.sweep.report), importances (runner.sweep.importance) and the sweep's progress lines
(runner.sweep.callback): a real `python run.py -m ...` sweep on small data against a temp SQLite store, the page
rebuilt by a real `python -m runner.review --html` subprocess and parsed with html.parser."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers import EXPERIMENT, RUN_PY, db_path, runs_of

# 6 jobs, 2 of them FAILED (model.C=-1): curves of the 4 finished ones, a failure section, a varied numeric param.
SWEEP = ["-m", "model=logreg", "model.C=1,0.01,-1", "sampler=none,smotetomek", "dataset.n_samples=400"]


class Page(HTMLParser):
    """Every tag with its attributes, the text, and the cells of the leaderboard table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> SimpleNamespace:
    """The sweep above, run once for the module; its report rebuilt by `python -m runner.review --html`."""
    import mlflow

    folder = tmp_path_factory.mktemp("report-sweep")
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    db_path(uri).parent.mkdir()
    shutil.copyfile(mlflow_template, db_path(uri))
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    run = subprocess.run([sys.executable, str(RUN_PY), *SWEEP], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 1, run.stderr  # two jobs failed, on purpose
    html = folder / "review" / "report.html"
    review = subprocess.run([sys.executable, "-m", "runner.review", "--html", str(html)], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=600)
    assert review.returncode == 0, review.stderr
    client = mlflow.MlflowClient(uri)
    jobs, (parent,) = runs_of(client, EXPERIMENT)
    return SimpleNamespace(folder=folder, uri=uri, client=client, jobs=jobs, parent=parent, html=html, run=run,
                           review=review, env=env)


@pytest.mark.slow
def test_the_page_parses_and_shows_every_job_its_failures_and_how_to_rerun_them(sweep) -> None:
    assert f"report: {sweep.html}" in sweep.review.stdout
    page = parse(sweep.html)
    text = page.all_text
    assert len(sweep.jobs) == 6
    for run in sweep.jobs:
        assert run.info.run_id in text
    failed = [r for r in sweep.jobs if r.info.status == "FAILED"]
    assert len(failed) == 2
    for r in failed:
        assert r.data.tags["runner.failure"] in text
    # the command that resumes the sweep: the parent's overrides, as typed
    assert f"python run.py -m {sweep.parent.data.tags['runner.overrides']}" in text
    assert "model=logreg model.C=1,0.01,-1 sampler=none,smotetomek dataset.n_samples=400" in text
    # the leaderboard: one row per job, sortable headers, the intervals and the marks
    (table,) = [a for t, a in page.tags if t == "table" and a.get("id") == "leaderboard-table"]
    assert "sortable" in (table.get("class") or "")
    assert sum(1 for t, _ in page.tags if t == "tr") >= 7
    assert "best" in text and "95% bootstrap interval" in text
    # curves of the 4 finished jobs, their confusion matrices; the varied numeric param's view
    ids = {a.get("id") for _, a in page.tags}
    assert {"chart-roc", "chart-pr", "chart-reliability", "chart-parallel"} <= ids
    assert sum(1 for t, a in page.tags if t == "table" and a.get("class") == "cm") == 4
    assert "model.C" in text
    # 4 finished jobs: too few to rank hyperparameters, and the page says so instead of showing noise
    assert "Not estimated: 4 finished jobs with a score: at least 8 are needed" in text


@pytest.mark.slow
def test_the_page_is_self_contained_and_forbids_loading_anything(sweep) -> None:
    page = parse(sweep.html)
    (meta,) = [a for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    policy = meta["content"] or ""
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy and "unsafe-eval" not in policy
    for tag, attrs in page.tags:
        src = attrs.get("src")
        assert src is None or src.startswith("data:"), (tag, src)
        if tag == "link":
            assert (attrs.get("href") or "").startswith("data:"), attrs
        if tag == "a":  # sqlite store: no MLflow UI to link to
            assert not (attrs.get("href") or "").startswith("http"), attrs
    assert sweep.html.stat().st_size < 1_000_000


@pytest.mark.slow
def test_feature_importance_equals_permutation_importance_on_the_logged_model(sweep) -> None:
    import mlflow.sklearn
    from omegaconf import OmegaConf
    from sklearn.inspection import permutation_importance

    from runner.train import data
    from runner.train.evaluate import scores

    finished = sorted((r for r in sweep.jobs if r.info.status == "FINISHED"), key=lambda r: -r.data.metrics["f1"])
    assert len(finished) == 4
    page = parse(sweep.html)
    fi_tables = [a.get("data-run") for t, a in page.tags if t == "table" and a.get("class") == "fi"]
    assert sorted(fi_tables) == sorted(r.info.run_id for r in finished)  # the top 5 = the 4 finished jobs
    best = finished[0]
    run_id = best.info.run_id
    logged = pd.read_csv(sweep.client.download_artifacts(run_id, "feature_importance.csv", str(sweep.folder)))

    cfg = OmegaConf.load(sweep.client.download_artifacts(run_id, "resolved_config.yaml", str(sweep.folder)))
    split = data.load_split(cfg.dataset, cfg.preprocess.kind)
    mlflow.set_tracking_uri(sweep.uri)
    try:
        model = mlflow.sklearn.load_model(best.data.tags["runner.model_uri"])
    finally:
        mlflow.set_tracking_uri(None)

    def scorer(est, X, y):
        return scores(y, est.predict(X), est.predict_proba(X), np.asarray(est.classes_))["f1"]

    expected = permutation_importance(model, split.X_test, split.y_test, scoring=scorer, n_repeats=5, random_state=0)
    by_feature = logged.set_index("feature")
    for i, column in enumerate(split.X_test.columns):
        assert by_feature.loc[column, "importance_mean"] == pytest.approx(expected.importances_mean[i], abs=1e-12)
        assert by_feature.loc[column, "importance_std"] == pytest.approx(expected.importances_std[i], abs=1e-12)
    assert list(logged.columns) == ["feature", "importance_mean", "importance_std"]
    # the page shows the same numbers (4 decimals)
    top = logged.iloc[0]
    assert f"{top['importance_mean']:+.4f}" in page.all_text


@pytest.mark.slow
def test_a_second_report_reads_the_logged_importance_back(sweep, tmp_path) -> None:
    from runner.sweep import compare, importance, report, select

    rows, metric, title = select.collect(sweep.client)
    best = next(r for r in rows if r.scored)
    artifacts_before = [a.path for a in sweep.client.list_artifacts(best.run_id)]
    assert artifacts_before.count(importance.FEATURE_IMPORTANCE) == 1
    verdict = compare.mark_safely(sweep.client, rows, metric)
    path = report.write(sweep.client, sweep.parent, rows, metric, tmp_path, uri=sweep.uri, verdict=verdict)
    assert path == tmp_path / "report.html" and path.is_file()
    assert "report.html" in {a.path for a in sweep.client.list_artifacts(sweep.parent.info.run_id)}
    assert [a.path for a in sweep.client.list_artifacts(best.run_id)].count(importance.FEATURE_IMPORTANCE) == 1


@pytest.mark.slow
def test_each_job_says_where_the_sweep_is_and_the_summary_follows_the_jobs(sweep) -> None:
    out = sweep.run.stdout + sweep.run.stderr
    started = re.findall(r"\[(\d+)/6\] job (\d+) started · \d+s elapsed · (.*)", out)
    assert len(started) >= 4  # every job that ran (a preflight may refuse the invalid cells before they start)
    assert started[0][:2] == ("1", "0") and started[0][2] == "time left: estimated once a job has finished"
    n = len(started) - 1
    assert re.fullmatch(rf"~\d+s left \(from {n} finished jobs\)", started[-1][2].strip()), started[-1]
    (folder,) = sweep.folder.glob("outputs/sweeps/*/*")
    assert len((folder / ".progress.jobs").read_text().splitlines()) == len(started)
    # the parent run carries the best job so far (rewritten after every job)
    parent = sweep.client.get_run(sweep.parent.info.run_id)
    best = max((r for r in sweep.jobs if r.info.status == "FINISHED"), key=lambda r: r.data.metrics["f1"])
    assert parent.data.tags["runner.best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_f1"] == pytest.approx(best.data.metrics["f1"])
    history = sweep.client.get_metric_history(sweep.parent.info.run_id, "best_f1")
    assert len(history) >= 2  # updated as jobs ended, not only once


def test_the_start_line_estimates_the_time_left_from_the_pace_so_far(tmp_path) -> None:
    from runner.sweep import callback

    callback.write_progress(tmp_path, 40, started=1000.0)
    assert callback.start_line(tmp_path, 0, now=1005.0) == \
        "[1/40] job 0 started · 5s elapsed · time left: estimated once a job has finished"
    for n in range(10):
        callback.record_end(tmp_path, n, 20.0)
    # 10 jobs in 200 s: 30 more at that pace
    assert callback.start_line(tmp_path, 11, now=1200.0) == \
        "[12/40] job 11 started · 3m20s elapsed · ~10m00s left (from 10 finished jobs)"
    assert callback.start_line(tmp_path / "elsewhere", 3) == ""


def test_hyperparameter_importance_ranks_the_parameter_that_moves_the_metric(client) -> None:
    """Runs shaped like a sweep's (params and metric only): `a` decides the score, `b` is noise."""
    from mlflow.entities import Metric, Param

    from runner.sweep import importance

    exp = client.create_experiment("hp")
    rng = np.random.default_rng(0)
    for i in range(16):
        a, b = [0.01, 0.1, 1.0, 10.0][i % 4], float(rng.integers(10, 100))
        run_id = client.create_run(exp).info.run_id
        client.log_batch(run_id, params=[Param("model.C", str(a)), Param("model.max_iter", str(b)), Param("seed", "42")],
                         metrics=[Metric("f1", 0.5 + 0.1 * np.log10(a) + rng.normal(0, 0.005), 0, 0)])
        client.set_terminated(run_id)
    runs = client.search_runs([exp])
    params, values = importance.param_table(runs, lambda r: r.data.metrics["f1"])
    assert list(params.columns) == ["model.C", "model.max_iter"]  # `seed` does not vary
    ranking = importance.hyperparameter_importance(params, values)
    assert ranking.ok and list(ranking.table["name"]) == ["model.C", "model.max_iter"]
    assert ranking.table["importance_mean"].iloc[0] > 5 * max(ranking.table["importance_mean"].iloc[1], 0.01)
    few = importance.hyperparameter_importance(params.iloc[:7], values[:7])
    assert not few.ok and few.reason.startswith("7 finished jobs")


def test_run_ids_link_to_the_mlflow_ui_only_for_a_tracking_server() -> None:
    from runner.sweep.report import csp, run_link

    assert run_link("http://mlflow.example:5000/", "3", "abc") == "http://mlflow.example:5000/#/experiments/3/runs/abc"
    assert run_link("https://mlflow.example", "3", "abc") == "https://mlflow.example/#/experiments/3/runs/abc"
    assert run_link("sqlite:////tmp/mlflow.db", "3", "abc") is None
    assert run_link(None, "3", "abc") is None
    policy = csp("x")
    assert policy.startswith("default-src 'none'; script-src 'sha256-LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE='")
