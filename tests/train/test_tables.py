"""dataset=csv (runner.train.tables): a user's own file, end to end, and each mistake with it as one clear line."""
from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.metrics import f1_score

from helpers import ROOT, assert_one_line_error, compose, job_runs
from runner.errors import UserError
from runner.train import data, tables

CHURN = ROOT / "examples" / "churn.csv"


@pytest.mark.slow
def test_churn_csv_sweep_one_hot_inside_the_registered_model(run_cli, client, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative path from the launch dir (jobs chdir into their own folders), text columns, yes/no labels."""
    (tmp_path / "data").mkdir()
    shutil.copy(CHURN, tmp_path / "data" / "churn.csv")
    run_cli("-m", "dataset=csv", "dataset.path=data/churn.csv", "dataset.target=churned",
            "dataset.drop=[customer_id]", "model=logreg,xgb", "sampler=smotetomek",
            "registry.register=true", "hydra.job.chdir=true")
    runs = job_runs(client, "churn")  # the experiment is named after the file
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    versions = client.search_model_versions("name='churn-classifier'")
    assert len(versions) == 2
    raw = pd.read_csv(CHURN)
    monkeypatch.chdir(tmp_path)  # the logged config holds the path as typed, relative to the launch dir
    for run in runs:
        assert run.data.params["dataset.path"] == "data/churn.csv"
        assert run.data.params["dataset.target"] == "churned"
        model_uri = run.data.tags["runner.model_uri"]
        pipe = mlflow.sklearn.load_model(model_uri)
        text = pipe.named_steps["features"].named_transformers_["text"]
        encoder = text.steps[-1][1] if hasattr(text, "steps") else text  # after the imputer (preprocess=standard)
        assert type(encoder).__name__ == "OneHotEncoder" and encoder.handle_unknown == "ignore"
        assert list(pipe.classes_) == ["no", "yes"]
        pyfunc = mlflow.pyfunc.load_model(model_uri)
        sig = {c["name"]: c["type"] for c in pyfunc.metadata.signature.inputs.to_dict()}
        # dataset=csv imputes (preprocess=standard): numeric columns take empty cells, so MLflow's `any`
        assert sig == {"tenure_months": "any", "monthly_charges": "any", "contract": "string",
                       "payment": "string", "support_calls": "any", "paperless": "boolean"}
        assert pyfunc.metadata.signature.outputs.to_dict()[0]["type"] == "string"
        # raw rows straight from the file (the id and label columns too, and an unseen category)
        rows = raw.head(20).assign(contract=["never-seen"] + list(raw.contract[1:20]))
        assert set(np.asarray(pyfunc.predict(rows.drop(columns=["churned"])))) <= {"yes", "no"}
        # the logged f1 is for the positive class "yes", on the held-out split the config describes
        cfg = OmegaConf.load(client.download_artifacts(run.info.run_id, "resolved_config.yaml"))
        split = data.load_split(cfg.dataset)
        assert split.digest == run.data.tags["runner.data_digest"]
        y_pred = np.asarray(pyfunc.predict(split.X_test)).ravel()
        assert f1_score(split.y_test, y_pred, pos_label="yes") == run.data.metrics["f1"]
        plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert "plots/roc_curve.png" in plots


@pytest.mark.slow
def test_parquet_multiclass_text_labels_with_xgboost(run_cli, client, tmp_path: Path) -> None:
    """Iris as a Parquet file with species names: XGBoost (0..n-1 only) answers in the file's labels."""
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    df = iris.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    df["species"] = iris.target_names[iris.target]
    df.to_parquet(tmp_path / "flowers.parquet")
    run_cli("dataset=csv", f"dataset.path={tmp_path / 'flowers.parquet'}", "dataset.target=species", "model=xgb")
    (run,) = job_runs(client, "flowers")
    assert run.info.status == "FINISHED" and "roc_auc" in run.data.metrics
    pyfunc = mlflow.pyfunc.load_model(run.data.tags["runner.model_uri"])
    assert set(np.asarray(pyfunc.predict(df.drop(columns=["species"])))) == {"setosa", "versicolor", "virginica"}
    assert pyfunc.metadata.signature.outputs.to_dict()[0]["type"] == "string"


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return name


GOOD_HEADER = "age,plan,label\n"

ROWS = "".join(f"{20 + i},{'ab'[i % 2]},{'yn'[i % 3 == 0]}\n" for i in range(30))

CASES = {
    "missing file": ({}, ["dataset.path=nope.csv", "no such file", "launch directory"], None),
    "missing target column": ({"target": "churn"}, ["dataset.target=churn", "no such column",
                                                     "columns: age, plan, label"], GOOD_HEADER + ROWS),
    # refused without imputation (dataset=csv imputes by default: preprocess=standard)
    "missing values": ({"args": ["preprocess=none"]}, ["missing values in age (1 rows)", "plan (1 rows)"],
                       GOOD_HEADER + ROWS + ",a,y\n41,,n\n"),
    "single class": ({}, ["dataset.target=label", "a single class ('y')"],
                     GOOD_HEADER + "".join(f"{i},a,y\n" for i in range(30))),
    "empty file": ({}, ["the file is empty"], ""),
    "header only": ({}, ["the file has no rows", "columns: age, plan, label"], GOOD_HEADER),
    "continuous target": ({"target": "age"}, ["dataset.target=age", "class labels"],
                          GOOD_HEADER + "".join(f"{i}.5,a,y\n" for i in range(30))),
    "no path given": ({"path": None}, ["dataset.path is required"], None),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_csv_mistakes_are_one_line_and_write_nothing(case: str, run_cli, tmp_path: Path, store_uri: str) -> None:
    extra, expected, content = CASES[case]
    path = "nope.csv" if content is None else write(tmp_path, "mine.csv", content)
    args = ["dataset=csv", f"dataset.target={extra.get('target', 'label')}", *extra.get("args", [])]
    if extra.get("path", "") is not None:
        args.append(f"dataset.path={path}")
    proc = run_cli(*args, check=False)
    assert_one_line_error(proc, *expected)
    assert not Path(store_uri.replace("sqlite:///", "", 1)).exists(), "a failed run must not create the store"



# ---- runner.train.tables in this process (the launch directory is the current folder outside Hydra)

def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [20 + i for i in range(12)], "plan": list("ab" * 6), "paperless": [True, False] * 6,
                         "id": range(12), "label": list("yn" * 6)})


def test_a_file_is_features_and_labels_relative_to_the_launch_directory(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    frame().to_csv(tmp_path / "data" / "mine.csv", index=False)
    monkeypatch.chdir(tmp_path)
    cfg = compose(["dataset=csv", "dataset.path=data/mine.csv", "dataset.target=label", "dataset.drop=[id]"]).dataset
    X, y = data.load(cfg)
    assert list(X.columns) == ["age", "plan", "paperless"]
    assert X["age"].dtype == np.int64 and X["paperless"].dtype == bool
    assert pd.api.types.is_string_dtype(X["plan"])  # text stays text: the pipeline one-hot encodes it
    assert y.name == "target" and y.tolist() == list("yn" * 6)
    assert cfg.name == "mine"


def test_integral_float_labels_become_integers_and_categories_text(tmp_path: Path) -> None:
    df = frame().assign(label=[1.0, 2.0] * 6, plan=pd.Categorical(list("ab" * 6)))
    df.to_parquet(tmp_path / "f.parquet")
    X, y, dropped = tables.table({"path": str(tmp_path / "f.parquet"), "target": "label"}, None)
    assert dropped == 0
    assert y.dtype == np.int64 and sorted(set(y)) == [1, 2]
    assert not isinstance(X["plan"].dtype, pd.CategoricalDtype) and set(X["plan"]) == {"a", "b"}


@pytest.mark.parametrize("params, content, message", [
    ({"target": "label", "sep": ";"}, None,
     "dataset.sep: unknown key for dataset=csv; allowed: path, target, drop, name, random_state, test_size"),
    ({}, None, "dataset.target is required with dataset=csv: the name of the label column"),
    ({"target": "label", "drop": ["nope"]}, None, "dataset.drop=['nope']: no such column 'nope' in "),
    ({"target": "label", "drop": ["age", "plan", "paperless", "id"]}, None, "no feature columns besides the target 'label'"),
    ({"target": "label"}, frame().rename(columns={"id": "target"}), "a feature column is named 'target'"),
    ({"target": "label"}, frame().assign(when=pd.Timestamp("2024-01-01")),
     ("column 'when' has type datetime64", "; only numbers, booleans and text are supported")),
    ({"target": "label"}, b"not parquet at all", "cannot read it as Parquet: "),
])
def test_mistakes_with_a_parquet_file_are_one_line(tmp_path: Path, params: dict, content, message) -> None:
    path = tmp_path / "f.parquet"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        (frame() if content is None else content).to_parquet(path)
    with pytest.raises(UserError) as e:
        tables.table({"path": str(path), **params}, None)
    for piece in (message,) if isinstance(message, str) else message:
        assert piece in str(e.value), (piece, str(e.value))
    assert str(e.value).startswith(("dataset.", "dataset=")) and "\n" not in str(e.value)


def test_a_csv_that_does_not_parse_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('a,b\n1,2\n3,"4\n')  # an unterminated quote
    with pytest.raises(UserError, match=rf"^dataset.path={path}: cannot read it as CSV: "):
        tables.table({"path": str(path), "target": "b"}, None)


def test_rows_without_a_label_are_dropped_and_counted_and_gaps_pass_only_when_imputed(tmp_path: Path) -> None:
    df = frame().astype({"label": object, "age": float})
    df.loc[[2, 5], "label"] = None
    df.loc[7, "age"] = None
    path = tmp_path / "gaps.parquet"
    df.to_parquet(path)
    with pytest.raises(UserError, match=r"missing values in age \(1 rows\); use preprocess=standard"):
        tables.table({"path": str(path), "target": "label"}, None)
    X, y, dropped = tables.table({"path": str(path), "target": "label"}, None, imputes=True)
    assert dropped == 2 and len(X) == len(y) == 10 and X["age"].isna().sum() == 1
    assert list(X.index) == [0, 1, 3, 4, 6, 7, 8, 9, 10, 11]  # each row keeps its position in the file
