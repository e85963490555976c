"""Batch prediction against a real registered model in a temp SQLite store."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, compose
from runner import data, job, predict

NAME = "iris-classifier"
CHAMPION = f"models:/{NAME}@champion"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One registered Iris model (the first champion) and its held-out rows as CSV."""
    folder = tmp_path_factory.mktemp("predict")
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        job.run(compose([f"mlflow.tracking_uri={uri}", "dataset=iris", "registry.register=true"]))
        split = data.load_split(compose(["dataset=iris"]).dataset)
        rows = folder / "rows.csv"
        split.X_test.to_csv(rows, index=False)
        yield {"uri": uri, "folder": folder, "rows": rows, "X": split.X_test.reset_index(drop=True)}
    mlflow.set_tracking_uri(None)


def test_cli_writes_rows_with_class_and_probabilities_matching_pyfunc(trained) -> None:
    out = trained["folder"] / "out" / "predictions.csv"
    env = {**os.environ, "MLFLOW_TRACKING_URI": trained["uri"]}
    proc = subprocess.run([sys.executable, "-m", "runner.predict", "--model", CHAMPION, "--input", str(trained["rows"]),
                           "--output", str(out), "--chunk-size", "7"],
                          cwd=trained["folder"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {len(trained['X'])} rows" in proc.stdout
    got = pd.read_csv(out)
    X = trained["X"]
    assert list(got.columns) == [*X.columns, "prediction", "proba_0", "proba_1", "proba_2"]
    pd.testing.assert_frame_equal(got[list(X.columns)], X)  # the input rows, unchanged
    labels = np.asarray(mlflow.pyfunc.load_model(CHAMPION).predict(X)).ravel()
    assert got["prediction"].tolist() == labels.tolist()  # row for row
    proba = mlflow.sklearn.load_model(CHAMPION).predict_proba(X)
    np.testing.assert_allclose(got[["proba_0", "proba_1", "proba_2"]].to_numpy(), proba, rtol=0, atol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert len(set(labels)) == 3  # a real model, not a constant


def test_run_id_parquet_and_integer_columns(trained, capsys) -> None:
    X = trained["X"]
    ints = X.round().astype("int64")  # MLflow's own schema check rejects int64 for double columns
    source = trained["folder"] / "ints.parquet"
    ints.to_parquet(source)
    run_id = mlflow.MlflowClient().get_model_version_by_alias(NAME, "champion").run_id
    out = trained["folder"] / "ints-out.parquet"
    assert predict.main(["--model", run_id, "--input", str(source), "--output", str(out), "--chunk-size", "10"]) == 0
    got = pd.read_parquet(out)
    expected = mlflow.pyfunc.load_model(CHAMPION).predict(ints.astype("float64"))
    assert got["prediction"].tolist() == np.asarray(expected).ravel().tolist()
    assert got[list(X.columns)].dtypes.eq("float64").all()


@pytest.mark.parametrize("case,expected", [
    ("missing", "missing column(s) petal_width; the model expects"),
    ("extra", "column(s) target not in the model's signature"),
    ("text", "row 40, column sepal_width: 'wide' is not a number"),
    ("empty", "row 3, column petal_length: an empty cell is not a number"),
    ("alias", "cannot load it from"),
])
def test_bad_inputs_fail_in_one_line_with_no_output(trained, capsys, case: str, expected: str) -> None:
    raw = pd.read_csv(trained["rows"], dtype=str)
    model = CHAMPION
    if case == "missing":
        raw = raw.drop(columns=["petal_width"])
    elif case == "extra":
        raw["target"] = "1"
    elif case == "text":
        raw.loc[39, "sepal_width"] = "wide"  # in the third chunk: two chunks were already written
    elif case == "empty":
        raw.loc[2, "petal_length"] = ""
    else:
        model = f"models:/{NAME}@nonexistent"
    folder = trained["folder"] / case
    folder.mkdir()
    source = folder / "in.csv"
    raw.to_csv(source, index=False)
    out = folder / "out.csv"
    code = predict.main(["--model", model, "--input", str(source), "--output", str(out), "--chunk-size", "16"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("error: ") and expected in err[-1], err
    assert sorted(p.name for p in folder.iterdir()) == ["in.csv"]  # no output, no leftover temp file


def test_no_store_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert predict.main(["--model", CHAMPION, "--input", "x.csv", "--output", "y.csv"]) == 1
    assert "no MLflow store at" in capsys.readouterr().err
    assert not (tmp_path / "outputs").exists()  # nothing created as a side effect
