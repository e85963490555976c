"""dataset=csv: a user's own file, end to end, and each mistake with it as one clear line."""
from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.metrics import f1_score

from runner import data

ROOT = Path(__file__).resolve().parent.parent
CHURN = ROOT / "examples" / "churn.csv"


def job_runs(client, experiment: str):
    exp = client.get_experiment_by_name(experiment)
    return [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("runner.sweep") != "true"]


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
        encoder = pipe.named_steps["features"].named_transformers_["text"]
        assert type(encoder).__name__ == "OneHotEncoder" and encoder.handle_unknown == "ignore"
        assert list(pipe.classes_) == ["no", "yes"]
        pyfunc = mlflow.pyfunc.load_model(model_uri)
        sig = {c["name"]: c["type"] for c in pyfunc.metadata.signature.inputs.to_dict()}
        assert sig == {"tenure_months": "long", "monthly_charges": "double", "contract": "string",
                       "payment": "string", "support_calls": "long", "paperless": "boolean"}
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


def assert_one_line_error(proc, *expected: str) -> None:
    """Non-zero exit, no traceback, and one `error:` line holding every expected piece."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for piece in expected:
        assert piece in errors[0], (piece, errors[0])


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return name


GOOD_HEADER = "age,plan,label\n"
ROWS = "".join(f"{20 + i},{'ab'[i % 2]},{'yn'[i % 3 == 0]}\n" for i in range(30))
CASES = {
    "missing file": ({}, ["dataset.path=nope.csv", "no such file", "launch directory"], None),
    "missing target column": ({"target": "churn"}, ["dataset.target=churn", "no such column",
                                                     "columns: age, plan, label"], GOOD_HEADER + ROWS),
    "missing values": ({}, ["missing values in age (1 rows)", "plan (1 rows)"],
                       GOOD_HEADER + ROWS + ",a,y\n41,,n\n"),
    "single class": ({}, ["dataset.target=label", "a single class ('y')"],
                     GOOD_HEADER + "".join(f"{i},a,y\n" for i in range(30))),
    "empty file": ({}, ["the file is empty"], ""),
    "header only": ({}, ["the file has no rows", "columns: age, plan, label"], GOOD_HEADER),
    "continuous target": ({"target": "age"}, ["dataset.target=age", "class labels"],
                          GOOD_HEADER + "".join(f"{i}.5,a,y\n" for i in range(30))),
    "no path given": ({"path": None}, ["dataset.path is required"], None),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_csv_mistakes_are_one_line_and_write_nothing(case: str, run_cli, tmp_path: Path, store_uri: str) -> None:
    extra, expected, content = CASES[case]
    path = "nope.csv" if content is None else write(tmp_path, "mine.csv", content)
    args = ["dataset=csv", f"dataset.target={extra.get('target', 'label')}"]
    if extra.get("path", "") is not None:
        args.append(f"dataset.path={path}")
    proc = run_cli(*args, check=False)
    assert_one_line_error(proc, *expected)
    assert not Path(store_uri.replace("sqlite:///", "", 1)).exists(), "a failed run must not create the store"
