"""A real file with gaps: preprocess=standard (dataset=csv's default) trains it, and every prediction path
(runner.predict, runner.monitor, MLflow's REST server) takes rows with empty cells and all-integer batches."""
from __future__ import annotations

import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from helpers import serve_predictions

pytestmark = pytest.mark.slow

NAME = "cancer-classifier"
CHAMPION = f"models:/{NAME}@champion"


def breast_cancer(folder: Path) -> pd.DataFrame:
    """scikit-learn's breast-cancer data as a user's CSV: text labels, a text column, gaps, an empty label."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    df = bunch.data.iloc[:, :8].rename(columns=lambda c: c.replace(" ", "_"))
    df["clinic"] = np.where(np.arange(len(df)) % 3 == 0, "north", "south")
    df["diagnosis"] = np.where(bunch.target == 1, "benign", "malignant")
    rng = np.random.default_rng(0)
    for column in ("mean_radius", "mean_texture", "clinic"):
        df.loc[rng.choice(len(df), 25, replace=False), column] = np.nan
    df.loc[[3, 7], "diagnosis"] = np.nan
    df.to_csv(folder / "cancer.csv", index=False)
    return df


def test_a_csv_with_gaps_trains_registers_and_is_predicted_with_empty_cells(run_cli, client, store_uri,
                                                                            tmp_path: Path) -> None:
    df = breast_cancer(tmp_path)
    proc = run_cli("dataset=csv", "dataset.path=cancer.csv", "dataset.target=diagnosis", "model=logreg",
                   "registry.register=true")
    assert "ConvergenceWarning" not in proc.stdout + proc.stderr  # scaled features: lbfgs converges
    assert "dropped 2 rows with an empty diagnosis" in proc.stdout + proc.stderr
    run = client.get_run(client.get_model_version_by_alias(NAME, "champion").run_id)
    assert run.data.params["preprocess.kind"] == "standard" and run.data.metrics["dropped_rows"] == 2

    features = df.drop(columns=["diagnosis"])
    gaps = features.head(30)
    assert gaps.isna().any().any()
    integers = features.iloc[30:60].copy()
    numeric = [c for c in integers.columns if c != "clinic"]
    integers[numeric] = integers[numeric].round().fillna(0).astype(int)  # an all-integer batch
    integers["clinic"] = integers["clinic"].fillna("north")
    gaps.to_csv(tmp_path / "gaps.csv", index=False)
    integers.to_csv(tmp_path / "integers.csv", index=False)

    expected = {}
    model = mlflow.sklearn.load_model(CHAMPION)
    for name, frame in (("gaps", gaps), ("integers", integers)):
        run_cli("--model", CHAMPION, "--input", f"{name}.csv", "--output", f"{name}-out.csv", module="runner.predict")
        predicted = pd.read_csv(tmp_path / f"{name}-out.csv")["prediction"].tolist()
        expected[name] = list(model.predict(frame))
        assert predicted == expected[name]

    rest = serve_predictions(CHAMPION, {**os.environ, "MLFLOW_TRACKING_URI": store_uri}, tmp_path, [gaps, integers])
    assert rest == [expected["gaps"], expected["integers"]]

    labelled = df.dropna(subset=["diagnosis"]).head(120)
    labelled.to_csv(tmp_path / "batch.csv", index=False)
    proc = run_cli("--model", CHAMPION, "--input", "batch.csv", "--target", "diagnosis", "--output", "report",
                   module="runner.monitor", check=False)
    assert proc.returncode in (0, 3), proc.stderr
    assert (tmp_path / "report" / "report.md").is_file()


def test_without_imputation_a_gap_is_still_one_line(run_cli, tmp_path: Path) -> None:
    breast_cancer(tmp_path)
    proc = run_cli("dataset=csv", "dataset.path=cancer.csv", "dataset.target=diagnosis", "preprocess=none",
                   check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "missing values in mean_radius (25 rows)" in proc.stderr and "preprocess=standard" in proc.stderr
