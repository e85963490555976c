"""Batch prediction (runner.serve.predict, `python -m runner.predict`) with a real registered model in a temp SQLite store."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from helpers import compose
from runner import predict
from runner.train import data

NAME = "iris-classifier"
CHAMPION = f"models:/{NAME}@champion"


@pytest.fixture(scope="module")
def trained(model_store, tmp_path_factory):
    """The session store's registered Iris model (its first champion) and its held-out rows as CSV."""
    folder = tmp_path_factory.mktemp("predict")
    uri = model_store.uri
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        split = data.load_split(compose(["dataset=iris"]).dataset)
        rows = folder / "rows.csv"
        split.X_test.to_csv(rows, index=False)
        yield {"uri": uri, "folder": folder, "rows": rows, "X": split.X_test.reset_index(drop=True)}
    mlflow.set_tracking_uri(None)


@pytest.mark.slow
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


# ---- the parts of runner.serve.predict that need no store: a model saved to a local folder

@pytest.fixture(scope="module")
def local_model(tmp_path_factory):
    """A fitted pipeline with text, integer, float and boolean columns, saved as an MLflow model folder."""
    import mlflow.sklearn

    from runner.track import models
    from runner.train import features
    from runner.train.pipeline import build

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"tenure": rng.integers(0, 60, 200), "charges": rng.normal(50, 10, 200).round(2),
                      "paperless": rng.random(200) < 0.5, "contract": rng.choice(["month", "year"], 200)})
    y = np.where((X.tenure > 30) ^ (rng.random(200) < 0.1), "stays", "leaves")
    pipe = build(compose(["model=logreg"]), features.step(X, by_name=True), np.unique(y)).fit(X, y)
    folder = tmp_path_factory.mktemp("local-model") / "model"
    mlflow.sklearn.save_model(pipe, folder, serialization_format="cloudpickle", pip_requirements=[],
                              signature=models.signature_of(X, np.unique(y)))
    return {"path": folder, "X": X, "pipe": pipe}


def test_a_local_model_folder_predicts_a_csv_in_chunks(local_model, tmp_path: Path, capsys) -> None:
    X = local_model["X"]
    source, out = tmp_path / "rows.csv", tmp_path / "out" / "predicted.parquet"
    X[["contract", "charges", "tenure", "paperless"]].to_csv(source, index=False)  # another column order
    code = predict.main(["--model", str(local_model["path"]), "--input", str(source), "--output", str(out),
                         "--chunk-size", "64", "--tracking-uri", f"sqlite:///{tmp_path}/none/mlflow.db"])
    assert code == 0 and f"wrote 200 rows with predictions from {local_model['path']}" in capsys.readouterr().out
    got = pd.read_parquet(out)
    pipe = local_model["pipe"]
    assert list(got.columns) == ["contract", "charges", "tenure", "paperless", "prediction", "proba_leaves", "proba_stays"]
    assert got["prediction"].tolist() == pipe.predict(X).tolist()
    np.testing.assert_allclose(got[["proba_leaves", "proba_stays"]].to_numpy(), pipe.predict_proba(X), rtol=0, atol=1e-15)
    assert not (tmp_path / "none").exists()  # a model folder needs no store


def test_an_empty_parquet_input_gives_an_empty_output_with_every_column(local_model, tmp_path: Path) -> None:
    from runner.serve import predict as serve

    source, out = tmp_path / "empty.parquet", tmp_path / "empty-out.csv"
    local_model["X"].iloc[:0].to_parquet(source)
    assert serve.run(str(local_model["path"]), source, out) == 0
    assert out.read_text().strip() == "tenure,charges,paperless,contract,prediction,proba_leaves,proba_stays"


@pytest.mark.parametrize("args, message", [
    (["--input", "rows.txt"], "--input rows.txt: unknown file type '.txt'; allowed: .csv, .parquet"),
    (["--output", "out.json"], "--output out.json: unknown file type '.json'; allowed: .csv, .parquet"),
    (["--input", "missing.csv"], "--input missing.csv: no such file"),
    (["--chunk-size", "0"], "--chunk-size=0: must be an integer >= 1"),
])
def test_bad_arguments_are_one_line_before_the_model_is_loaded(local_model, tmp_path: Path, monkeypatch, capsys,
                                                               args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    local_model["X"].to_csv("rows.csv", index=False)
    options = {"--model": str(local_model["path"]), "--input": "rows.csv", "--output": "out.csv"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [x for kv in options.items() for x in kv]
    assert predict.main([*argv, "--tracking-uri", "sqlite:///none.db"]) == 1
    assert capsys.readouterr().err.strip() == f"error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_what_is_not_a_usable_model_is_one_line(local_model, tmp_path: Path) -> None:
    import shutil

    import yaml

    from runner.errors import UserError
    from runner.serve import predict as serve

    with pytest.raises(UserError, match=r"^--model .*nothing-here: cannot load it from "):
        serve.load(str(tmp_path / "nothing-here"))
    unsigned = tmp_path / "unsigned"  # the same model as logged without a signature
    shutil.copytree(local_model["path"], unsigned)
    meta = yaml.safe_load((unsigned / "MLmodel").read_text())
    del meta["signature"]
    (unsigned / "MLmodel").write_text(yaml.safe_dump(meta))
    with pytest.raises(UserError, match="the model has no input signature with column names"):
        serve.load(str(unsigned))

    assert serve.resolve_model_uri("models:/x@champion") == "models:/x@champion"
    assert serve.resolve_model_uri(str(local_model["path"])) == str(local_model["path"])


def test_a_run_id_not_in_the_store_is_one_line(client) -> None:
    from runner.errors import UserError
    from runner.serve import predict as serve

    with pytest.raises(UserError, match=r"^--model 0{32}: no run with this id in sqlite:///"):
        serve.resolve_model_uri("0" * 32)


def loaded_with(columns: list[tuple[str, str]]):
    from runner.serve import predict as serve

    return serve.Loaded("m", None, columns)


def test_cells_are_typed_as_the_signature_says() -> None:
    from runner.serve import predict as serve

    chunk = pd.DataFrame({"x": ["1.5", " 2 ", "3"], "n": ["1", "2.0", "7"], "b": ["True", "false", "1"],
                          "s": ["a", "1", "x y"]})
    got = serve.features(chunk, loaded_with([("x", "double"), ("n", "long"), ("b", "boolean"), ("s", "string")]),
                         0, Path("in.csv"))
    assert got["x"].tolist() == [1.5, 2.0, 3.0] and got["n"].tolist() == [1.0, 2.0, 7.0]
    assert got["b"].tolist() == [True, False, True] and got["s"].tolist() == ["a", "1", "x y"]
    assert (got["x"].dtype, got["n"].dtype, got["b"].dtype) == (np.float64, np.float64, bool)
    assert pd.api.types.is_string_dtype(got["s"])


@pytest.mark.parametrize("column, kind, cells, message", [
    ("x", "double", ["1", "NA", "2"], "row 102, column x: 'NA' is not a number (the model's signature wants double)"),
    ("x", "double", ["1", "2", "inf"], "row 103, column x: 'inf' is not a number"),
    ("x", "float", ["", "2", "3"], "row 101, column x: an empty cell is not a number"),
    ("n", "long", ["1", "2.5", "3"], "row 102, column n: '2.5' is not an integer (the model's signature wants long)"),
    ("b", "boolean", ["true", "yes", "0"], "row 102, column b: 'yes' is not true/false"),
])
def test_the_first_bad_cell_is_named_by_row_and_column(column: str, kind: str, cells: list[str], message: str) -> None:
    from runner.errors import UserError
    from runner.serve import predict as serve

    chunk = pd.DataFrame({column: cells}, index=[100, 101, 102])
    with pytest.raises(UserError) as e:
        serve.features(chunk, loaded_with([(column, kind)]), 100, Path("in.csv"))
    assert str(e.value) == f"--input in.csv: {message}" or str(e.value).startswith(f"--input in.csv: {message}")


def test_the_columns_must_be_exactly_the_signatures() -> None:
    from runner.errors import UserError
    from runner.serve import predict as serve

    serve.check_columns(["b", "a"], ["a", "b"], Path("x.csv"))
    with pytest.raises(UserError, match=r"^--input x.csv: missing column\(s\) c; the model expects a, b, c$"):
        serve.check_columns(["b", "a"], ["a", "b", "c"], Path("x.csv"))
    with pytest.raises(UserError, match=r"column\(s\) id not in the model's signature \(expected exactly a\); drop them"):
        serve.check_columns(["a", "id"], ["a"], Path("x.csv"))


def test_reading_and_counting_the_input(tmp_path: Path) -> None:
    from runner.errors import UserError
    from runner.serve import predict as serve

    csv_path = tmp_path / "in.csv"
    pd.DataFrame({"a": range(10), "b": ["NA"] * 10}).to_csv(csv_path, index=False)
    assert serve.count_rows(csv_path, "csv") == 10
    chunks = list(serve.read_chunks(csv_path, "csv", 4))
    assert [len(c) for c in chunks] == [4, 4, 2] and chunks[0]["b"].tolist() == ["NA"] * 4  # never guessed missing
    pq_path = tmp_path / "in.parquet"
    pd.DataFrame({"a": range(7)}).to_parquet(pq_path)
    assert serve.count_rows(pq_path, "parquet") == 7 and [len(c) for c in serve.read_chunks(pq_path, "parquet", 5)] == [5, 2]
    assert serve.count_rows(tmp_path / "missing.parquet", "parquet") is None
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match="the file is empty"):
        list(serve.read_chunks(tmp_path / "empty.csv", "csv", 4))
    (tmp_path / "bad.parquet").write_bytes(b"nope")
    with pytest.raises(UserError, match="not a readable Parquet file"):
        list(serve.read_chunks(tmp_path / "bad.parquet", "parquet", 4))
    assert serve.input_format(Path("X.PQ"), "--input") == "parquet"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_writer_renames_its_temporary_file_into_place_or_leaves_nothing(tmp_path: Path, fmt: str) -> None:
    import os

    from runner.serve import predict as serve

    out = tmp_path / f"out.{fmt}"
    writer = serve.Writer(out, fmt)
    assert writer.tmp.parent == tmp_path and writer.tmp.name.startswith(f".out.{fmt}.")
    writer.write(pd.DataFrame({"a": [1, 2], "t": ["x, y", 'q"uote']}))
    writer.write(pd.DataFrame({"a": [3], "t": ["z"]}))
    assert not out.exists()
    writer.commit(pd.DataFrame(columns=["a", "t"]))
    got = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    assert got["a"].tolist() == [1, 2, 3] and got["t"].tolist() == ["x, y", 'q"uote', "z"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask and not writer.tmp.exists()
    failed = serve.Writer(tmp_path / f"failed.{fmt}", fmt)
    failed.write(pd.DataFrame({"a": [1]}))
    failed.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
