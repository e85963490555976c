"""`python -m runner.monitor` against a real registered champion in a temp SQLite store.

One champion (logreg on 1000 synthetic rows, registered, alias `champion` set by hand) serves every
test of this module; batches are rows from runner.train.data written as CSV files.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from omegaconf import OmegaConf

from helpers import RUN_PY, compose
from runner import monitor as monitor_cli
from runner.train import data, profile

pytestmark = pytest.mark.slow  # the champion is trained by a `python run.py` subprocess; one check is a subprocess too

NAME = "synthetic-imbalanced-classifier"
MODEL = f"models:/{NAME}@champion"


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory):
    """A trained, registered champion and the split it was evaluated on."""
    folder = tmp_path_factory.mktemp("monitor")
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    subprocess.run([sys.executable, str(RUN_PY), "model=logreg", "dataset.n_samples=1000", "seed=3",
                    "registry.register=true"], cwd=folder, env=env, check=True, capture_output=True, timeout=600)
    client = mlflow.MlflowClient(uri)
    client.set_registered_model_alias(NAME, "champion", "1")
    run_id = client.get_model_version(NAME, "1").run_id
    cfg = OmegaConf.load(client.download_artifacts(run_id, "resolved_config.yaml", str(folder)))
    split = data.load_split(cfg.dataset)
    evaluation = split.X_test.assign(y=split.y_test.to_numpy())  # rows the model never trained on
    return {"folder": folder, "uri": uri, "env": env, "client": client, "run_id": run_id,
            "split": split, "evaluation": evaluation}


def monitor_in_process(champion, monkeypatch, *args: str) -> int:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion["uri"])
    monkeypatch.chdir(champion["folder"])
    try:
        return monitor_cli.main(["--model", MODEL, *args])
    finally:
        mlflow.set_tracking_uri(None)


def monitoring_runs(client):
    exp = client.get_experiment_by_name(f"{NAME}-monitoring")
    return [] if exp is None else client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


def test_profile_is_logged_and_compact(champion) -> None:
    client = champion["client"]
    path = client.download_artifacts(champion["run_id"], profile.FILE, str(champion["folder"]))
    ref = profile.load(path)
    split = champion["split"]
    assert ref["n_train"] == len(split.X_train) and list(ref["features"]) == list(split.X_train.columns)
    x0 = ref["features"]["x0"]
    assert len(x0["quantiles"]) == profile.QUANTILES and len(x0["fractions"]) == len(x0["edges"]) + 1
    assert math.isclose(sum(x0["fractions"]), 1, abs_tol=1e-6)
    assert math.isclose(x0["quantiles"][100], float(np.quantile(split.X_train["x0"], 100.5 / 200)), rel_tol=1e-7)
    shares = ref["target"]["shares"]
    assert math.isclose(shares["1"], float((split.y_train == 1).mean()), abs_tol=1e-9)
    assert ref["prediction"]["n"] == len(split.X_test) and list(ref["prediction"]["columns"]) == ["proba[1]"]
    assert Path(path).stat().st_size < 40_000


def test_undrifted_batch_passes_and_reproduces_logged_metrics(champion, monkeypatch, capsys) -> None:
    batch = champion["folder"] / "same.csv"
    champion["evaluation"].to_csv(batch, index=False)
    out = champion["folder"] / "report-same"
    assert monitor_in_process(champion, monkeypatch, "--input", str(batch), "--target", "y", "--output", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "ok" and not any(d["flagged"] for d in report["drift"])
    logged = champion["client"].get_run(champion["run_id"]).data.metrics
    for m in report["metrics"]:  # the evaluation split scores exactly what training logged
        assert math.isclose(m["current"], logged[m["metric"]], abs_tol=1e-9), m
    assert {"report.md", "drift.png", "report.json"} <= {p.name for p in out.iterdir()}
    assert "dataset=csv" not in capsys.readouterr().out  # nothing to retrain


def test_new_generator_seed_is_a_new_distribution(champion, monkeypatch) -> None:
    """make_classification draws its clusters, covariances and scales from the seed: another seed drifts."""
    cfg = compose(["dataset.n_samples=600", "seed=4"]).dataset
    X, y = data.load(cfg)
    batch = champion["folder"] / "seed4.csv"
    X.assign(y=y.to_numpy()).to_csv(batch, index=False)
    out = champion["folder"] / "report-seed4"
    assert monitor_in_process(champion, monkeypatch, "--input", str(batch), "--output", str(out)) == 3
    report = json.loads((out / "report.json").read_text())
    assert sum(d["flagged"] for d in report["drift"] if d["role"] == "feature") >= 5


def test_one_shifted_feature_is_flagged_alone_and_the_retrain_command_printed(champion) -> None:
    shifted = champion["evaluation"].copy()
    shifted["x3"] = shifted["x3"] + shifted["x3"].std()
    batch = champion["folder"] / "shifted.csv"
    shifted.to_csv(batch, index=False)
    out = champion["folder"] / "report-shifted"
    proc = subprocess.run([sys.executable, "-m", "runner.monitor", "--model", MODEL, "--input", str(batch),
                           "--target", "y", "--output", str(out)], cwd=champion["folder"], env=champion["env"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 3, proc.stderr
    report = json.loads((out / "report.json").read_text())
    flagged = [d["column"] for d in report["drift"] if d["flagged"] and d["role"] == "feature"]
    assert flagged == ["x3"]
    assert report["drift"][0]["column"] == "x3"  # features sorted by drift
    assert "x3" in proc.stdout and "DRIFT" in proc.stdout and "FLAGGED (drift in x3" in proc.stderr
    command = report["retrain"]
    assert command in proc.stdout
    assert command.startswith(f"python run.py dataset=csv dataset.path={batch} dataset.target=y model=logreg sampler=none")
    assert "seed=3" in command and f"registry.name={NAME}" in command and "registry.register=true" in command
    assert "drift.png" in (out / "report.md").read_text()


def test_relabelled_batch_shows_the_metric_drop(champion, monkeypatch) -> None:
    relabelled = champion["evaluation"].copy()
    rng = np.random.default_rng(11)
    flip = rng.random(len(relabelled)) < 0.4
    relabelled.loc[flip, "y"] = 1 - relabelled.loc[flip, "y"]
    batch = champion["folder"] / "relabelled.csv"
    relabelled.to_csv(batch, index=False)
    out = champion["folder"] / "report-relabelled"
    assert monitor_in_process(champion, monkeypatch, "--input", str(batch), "--target", "y", "--output", str(out)) == 3
    report = json.loads((out / "report.json").read_text())
    metrics = {m["metric"]: m for m in report["metrics"]}
    assert metrics["f1"]["flagged"] and metrics["f1"]["current"] < metrics["f1"]["logged"] - 0.1
    assert metrics["roc_auc"]["current"] < metrics["roc_auc"]["logged"]
    assert "degraded" in report["status"]
    assert not [d for d in report["drift"] if d["flagged"] and d["role"] == "feature"]  # features untouched

    # the check logged a monitoring run; the version carries the latest status
    client = champion["client"]
    runs = monitoring_runs(client)
    last = runs[-1]
    assert last.data.tags["runner.monitor.status"] == "drift+degraded"
    assert last.info.status == "FINISHED"
    assert last.data.tags["runner.monitor.model_name"] == NAME
    assert last.data.tags["runner.monitor.model_version"] == "1"
    assert last.data.tags["runner.monitor.model_run_id"] == champion["run_id"]
    assert math.isclose(last.data.metrics["batch.f1"], metrics["f1"]["current"], abs_tol=1e-12)
    assert {a.path for a in client.list_artifacts(last.info.run_id)} >= {"report.md", "drift.png", "report.json"}
    tags = client.get_model_version(NAME, "1").tags
    assert tags["monitor.status"] == "drift+degraded" and tags["monitor.run_id"] == last.info.run_id


@pytest.mark.parametrize("case,expected", [
    ("missing", "missing column x2"),
    ("wrong_type", "column x1 has non-numeric values such as 'abc'"),
    ("empty", "the file is empty"),
    ("header_only", "no rows"),
    ("unknown_label", "labels 7 that the model does not know"),
])
def test_bad_batches_get_one_line_and_no_monitoring_run(champion, monkeypatch, capsys, case, expected) -> None:
    batch = champion["folder"] / f"bad-{case}.csv"
    ev = champion["evaluation"]
    if case == "missing":
        ev.drop(columns=["x2"]).to_csv(batch, index=False)
    elif case == "wrong_type":
        bad = ev.astype(object)
        bad.loc[bad.index[3], "x1"] = "abc"
        bad.to_csv(batch, index=False)
    elif case == "empty":
        batch.write_text("")
    elif case == "header_only":
        ev.iloc[:0].to_csv(batch, index=False)
    else:
        bad = ev.copy()
        bad.loc[bad.index[0], "y"] = 7
        bad.to_csv(batch, index=False)
    before = len(monitoring_runs(champion["client"]))
    status_before = champion["client"].get_model_version(NAME, "1").tags.get("monitor.status")
    assert monitor_in_process(champion, monkeypatch, "--input", str(batch), "--target", "y") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert len(monitoring_runs(champion["client"])) == before
    assert champion["client"].get_model_version(NAME, "1").tags.get("monitor.status") == status_before


def test_unknown_model_and_bad_threshold_are_errors(champion, monkeypatch, capsys) -> None:
    batch = champion["folder"] / "same.csv"
    champion["evaluation"].to_csv(batch, index=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion["uri"])
    assert monitor_cli.main(["--model", "models:/nope@champion", "--input", str(batch)]) == 2
    assert monitor_cli.main(["--model", MODEL, "--input", str(batch), "--set", "psi=-1"]) == 2
    assert monitor_cli.main(["--model", MODEL, "--input", str(batch), "--set", "nonsense=1"]) == 2
    err = capsys.readouterr().err
    assert "models:/nope@champion: not found" in err and "psi=-1" in err and "--set nonsense=1" in err
    mlflow.set_tracking_uri(None)
