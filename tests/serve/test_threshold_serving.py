"""A tuned threshold on text labels (examples/churn.csv) is part of the registered model: runner.predict,
pyfunc and MLflow's REST server give the same labels, which are predict_proba >= the logged threshold."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from helpers import serve_predictions

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NAME = "churn-classifier"
CHAMPION = f"models:/{NAME}@champion"


def test_three_prediction_paths_apply_the_tuned_threshold(run_cli, client, store_uri, tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "churn.csv", tmp_path / "churn.csv")
    run_cli("dataset=csv", "dataset.path=churn.csv", "dataset.target=churned", "dataset.drop=[customer_id]",
            "model=xgb", "sampler=smotetomek", "threshold=tuned", "registry.register=true")
    run = client.get_run(client.get_model_version_by_alias(NAME, "champion").run_id)
    threshold = run.data.metrics["decision_threshold"]
    assert threshold != 0.5

    rows = pd.read_csv(tmp_path / "churn.csv").drop(columns=["customer_id", "churned"]).head(80)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    run_cli("--model", CHAMPION, "--input", "rows.csv", "--output", "out.csv", module="runner.predict")
    batch = pd.read_csv(tmp_path / "out.csv")
    model = mlflow.sklearn.load_model(CHAMPION)
    positive = list(model.classes_).index("yes")
    expected = list(np.where(model.predict_proba(rows)[:, positive] >= threshold, "yes", "no"))
    assert batch["prediction"].tolist() == expected
    assert list(mlflow.pyfunc.load_model(CHAMPION).predict(rows)) == expected
    (served,) = serve_predictions(CHAMPION, {**os.environ, "MLFLOW_TRACKING_URI": store_uri}, tmp_path, [rows])
    assert served == expected
    assert len(set(expected)) == 2  # the threshold decides both ways on these rows


def test_a_combination_that_makes_no_sense_is_one_line_and_writes_nothing(run_cli, store_uri: str) -> None:
    proc = run_cli("dataset=iris", "threshold=tuned", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert "threshold=tuned: a decision threshold is for binary data" in line
    client = mlflow.MlflowClient(store_uri)
    assert not client.search_experiments(filter_string="name = 'iris'")
