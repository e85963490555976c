"""Monitoring a batch against a registered model's reference profile (runner.serve.monitor), in this process.

The champion-based end-to-end checks (a subprocess-trained champion, `python -m runner.monitor`): test_monitor_command.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from helpers import compose
from runner import monitor as monitor_cli
from runner.errors import UserError
from runner.serve import monitor
from runner.train import data, evaluate, profile


def test_thresholds_are_the_files_then_the_overrides(tmp_path: Path) -> None:
    assert monitor.thresholds() == {"psi": 0.2, "ks_statistic": 0.1, "pvalue": 0.01, "max_drop": 0.1, "metrics": None,
                                    "min_rows": 30, "worst": 3}
    mine = tmp_path / "monitor.yaml"
    mine.write_text("psi: 0.3\nmetrics: [f1]\n")
    got = monitor.thresholds(mine, ["max_drop=0.05", "metrics=roc_auc, accuracy", "min_rows=10"])
    assert (got["psi"], got["max_drop"], got["metrics"], got["min_rows"]) == (0.3, 0.05, ["roc_auc", "accuracy"], 10)
    assert monitor.thresholds(tmp_path / "absent.yaml") == monitor.DEFAULTS


@pytest.mark.parametrize("overrides, message", [
    (["nonsense=1"], "--set nonsense=1: expected key=value with key one of psi, pvalue, ks_statistic, max_drop"),
    (["psi"], "--set psi: expected key=value"),
    (["psi=-1"], "threshold psi=-1: must be a non-negative number"),
    (["worst=true"], "threshold worst=True: must be a non-negative number"),
    (["metrics=[f1,f2]"], "threshold metrics=['f1', 'f2']: f2 unknown; allowed: accuracy, "),
])
def test_bad_thresholds_are_one_line(overrides: list[str], message: str) -> None:
    with pytest.raises(UserError) as e:
        monitor.thresholds(overrides=overrides)
    assert str(e.value).startswith(message)


def reference(**columns) -> dict:
    """The profile of a small model trained on columns x (float), n (int) and the label y (0/1)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "n": rng.integers(0, 5, 200), **columns})
    y = pd.Series((X["x"] > 0).astype(int), name="y")
    ev = evaluate.evaluate(LogisticRegression().fit(X, y), X, y)
    return profile.build(X, y, ev.proba, ev.y_pred, ev.classes)


def write(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    frame.to_csv(tmp_path / name, index=False)
    return tmp_path / name


def test_a_batch_is_read_typed_as_the_model_was_trained(tmp_path: Path) -> None:
    batch = write(tmp_path, "b.csv", pd.DataFrame({"id": range(40), "n": [1, 2] * 20, "x": np.linspace(-1, 1, 40),
                                                   "y": [0.0, 1.0] * 20}))
    X, y, ignored = monitor.read_batch(batch, reference(), "y", 30)
    assert list(X.columns) == ["x", "n"] and X["n"].dtype == np.int64 and X["x"].dtype == float
    assert y.tolist() == [0, 1] * 20 and y.name == "y" and ignored == ["id"]
    X, y, ignored = monitor.read_batch(batch, reference(), None, 30)
    assert y is None and ignored == ["id", "y"]


@pytest.mark.parametrize("frame, target, message", [
    (pd.DataFrame({"x": [0.1] * 40}), None, "missing column n (the model needs x, n)"),
    (pd.DataFrame({"z": [0.1] * 40}), "y", "missing columns x, n, y (the model needs x, n; --target y)"),
    (pd.DataFrame({"x": [0.1] * 10, "n": 1}), None, "10 rows; at least min_rows=30 are needed for drift statistics"),
    (pd.DataFrame({"x": ["a"] + [0.1] * 39, "n": 1}), None, "column x has non-numeric values such as 'a' (1 rows); "
                                                                 "the model expects numbers"),
    (pd.DataFrame({"x": [None] * 2 + [0.1] * 38, "n": 1}), None, "column x has 2 empty values; the model was trained "
                                                                  "without missing values"),
    (pd.DataFrame({"x": 0.1, "n": 1, "y": [None] + [1] * 39}), "y", "--target y has 1 empty labels"),
    (pd.DataFrame({"x": 0.1, "n": 1, "y": [0, 1, 2, 5] * 10}), "y", "--target y has labels 2, 5 that the model does "
                                                                     "not know (its classes: 0, 1)"),
])
def test_a_bad_batch_is_one_line(tmp_path: Path, frame: pd.DataFrame, target, message: str) -> None:
    path = write(tmp_path, "b.csv", frame)
    with pytest.raises(UserError) as e:
        monitor.read_batch(path, reference(), target, 30)
    assert str(e.value) == f"--input {path}: {message}"


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        monitor.read_batch(tmp_path / "none.csv", reference(), None, 30)
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81" * 50)
    with pytest.raises(UserError, match="not a readable CSV file"):
        monitor.read_batch(tmp_path / "binary.csv", reference(), None, 30)


def test_only_a_registered_version_can_be_monitored(model_store) -> None:
    client = model_store.client
    for uri in ("runs:/abc/model", "models:/m-0123", "/tmp/model"):
        with pytest.raises(UserError, match="expected a registered model, models:/<name>@<alias>"):
            monitor.resolve(client, uri)
    with pytest.raises(UserError, match=r"^--model models:/nope@champion: not found in sqlite:///.* \(RESOURCE_DOES_NOT_EXIST\)"):
        monitor.resolve(client, "models:/nope@champion")
    by_alias = monitor.resolve(client, "models:/iris-classifier@champion")
    by_version = monitor.resolve(client, "models:/iris-classifier/1")
    assert by_alias.uri == by_version.uri == "models:/iris-classifier/1"
    assert by_alias.run_id == by_version.run_id == model_store.iris.info.run_id
    ref = monitor.reference(client, by_alias)
    assert ref["n_train"] == 105 and list(ref["prediction"]["columns"]) == ["proba[0]", "proba[1]", "proba[2]"]


def test_a_version_without_a_profile_says_how_to_get_one(client, store_uri: str, tmp_path: Path) -> None:
    from runner.track import store

    run = client.create_run(store.prepare(store_uri, "old"))
    client.create_registered_model("old")
    (tmp_path / "m").mkdir()
    client.create_model_version("old", str(tmp_path / "m"), run_id=run.info.run_id)
    champion = monitor.resolve(client, "models:/old/1")
    with pytest.raises(UserError, match=rf"run {run.info.run_id} has no reference_profile.json .* "
                                        rf"python -m runner.rerun {run.info.run_id}$"):
        monitor.reference(client, champion)


def test_a_relabelled_iris_batch_is_degraded_logged_and_gets_the_retraining_command(store_copy, tmp_path: Path,
                                                                                    monkeypatch, capsys) -> None:
    """Multiclass: every class's probability is monitored; the check is logged in the copy of the session store."""
    split = data.load_split(compose(["dataset=iris"]).dataset)
    batch = split.X_test.assign(species=np.roll(split.y_test.to_numpy(), 7))  # labels no longer match the rows
    path = write(tmp_path, "batch.csv", batch)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report"
    code = monitor_cli.main(["--model", "models:/iris-classifier@champion", "--input", str(path), "--target",
                             "species", "--output", str(out), "--set", "min_rows=20"])
    printed = capsys.readouterr()
    assert code == monitor.EXIT_FLAGGED, printed.err
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "degraded" and report["rows"] == len(batch)
    assert sorted(d["column"] for d in report["drift"] if d["role"] == "prediction") == ["proba[0]", "proba[1]", "proba[2]"]
    f1 = next(m for m in report["metrics"] if m["metric"] == "f1")
    model = __import__("mlflow").sklearn.load_model("models:/iris-classifier/1")
    assert f1["current"] == evaluate.scores(batch["species"], model.predict(split.X_test),
                                            model.predict_proba(split.X_test), model.classes_)["f1"]
    assert f1["flagged"] and f1["watched"]
    assert report["retrain"].startswith(f"python run.py dataset=csv dataset.path={path} dataset.target=species ")
    assert report["retrain"] in printed.out and "FLAGGED (f1 " in printed.err
    assert {p.name for p in out.iterdir()} == {"report.md", "report.json", "drift.png"}
    client = store_copy.client
    (run,) = client.search_runs([client.get_experiment_by_name("iris-classifier-monitoring").experiment_id])
    assert run.data.tags["runner.monitor.status"] == "degraded" and run.data.metrics["rows"] == len(batch)
    assert client.get_model_version("iris-classifier", "1").tags["monitor.run_id"] == run.info.run_id
