"""Records written before the house moved by stage still work: load, predict, serve, gate, monitor, rerun.

The code of commit BEFORE_MOVE (the flat `runner/` package) writes a store: a sweep on text labels
(`examples/churn.csv`, xgb, so every model pickles `runner.labels.LabelEncoded` by reference; with
SMOTETomek, whose logged config names `runner.samplers.TomekLinks`), registered. Today's code then
uses that store. Needs the repository's history (any clone has it).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from helpers import serve_predictions

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BEFORE_MOVE = "b4d8a38"  # the last commit with the flat package
NAME = "churn-classifier"
CHAMPION = f"models:/{NAME}@champion"
CHURN = ["dataset=csv", "dataset.path=data/churn.csv", "dataset.target=churned", "dataset.drop=[customer_id]"]


def old_code(where: Path) -> Path:
    """run.py, conf/ and runner/ as they were at BEFORE_MOVE."""
    where.mkdir()
    archive = subprocess.run(["git", "archive", BEFORE_MOVE, "run.py", "conf", "runner"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    archive_path = where / "old.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(where, filter="data")
    return where


def run(cwd: Path, env: dict, *args: str, module: str | None = None, script: Path | None = None) -> str:
    cmd = [sys.executable, "-m", module, *args] if module else [sys.executable, str(script), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 3), f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout + proc.stderr


def test_a_store_written_before_the_move_still_loads_predicts_serves_gates_monitors_and_reruns(
        tmp_path: Path, store_uri: str, client: mlflow.MlflowClient) -> None:
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    churn = pd.read_csv(ROOT / "examples" / "churn.csv")
    churn.to_csv(work / "data" / "churn.csv", index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri}
    old = old_code(tmp_path / "old")
    old_env = {**env, "PYTHONPATH": str(old)}

    run(work, old_env, "-m", *CHURN, "model=xgb", "sampler=none,smotetomek", "registry.register=true",
        script=old / "run.py")
    versions = client.search_model_versions(f"name='{NAME}'")
    assert len(versions) == 2
    champion = client.get_model_version_by_alias(NAME, "champion")
    old_run = client.get_run(champion.run_id)
    assert old_run.data.tags["runner.code_version"]  # written by the old code
    smote_run = next(client.get_run(v.run_id) for v in versions if client.get_run(v.run_id).data.tags[
        "runner.sampler"] == "smotetomek")
    logged = Path(client.download_artifacts(smote_run.info.run_id, "resolved_config.yaml", str(tmp_path)))
    assert "runner.samplers.TomekLinks" in logged.read_text()

    # loads and predicts with today's code: the pickled runner.labels.LabelEncoded answers "yes"/"no"
    rows = churn.drop(columns=["customer_id", "churned"]).head(40)
    rows.to_csv(work / "rows.csv", index=False)
    run(work, env, "--model", CHAMPION, "--input", "rows.csv", "--output", "out.csv", module="runner.predict")
    predicted = pd.read_csv(work / "out.csv")["prediction"].tolist()
    assert set(predicted) <= {"yes", "no"} and len(predicted) == 40
    sklearn_model = mlflow.sklearn.load_model(CHAMPION)
    pickled = b"".join(p.read_bytes() for p in Path(mlflow.artifacts.download_artifacts(CHAMPION)).rglob("*.pkl"))
    assert b"runner.labels" in pickled and b"runner.train" not in pickled  # the old module path, by reference
    assert type(sklearn_model.named_steps["model"]).__name__ == "LabelEncoded"
    assert list(sklearn_model.predict(rows)) == predicted

    # serves over REST
    assert serve_predictions(CHAMPION, env, work, [rows]) == [predicted]

    # gates: a new challenger trained by today's code on another split is compared with the old champion
    out = run(work, env, *CHURN, "model=xgb", "seed=7", "registry.register=true", script=ROOT / "run.py")
    assert f"registry: {NAME} v3" in out
    decision = client.get_model_version(NAME, "3").tags["gate.decision"]
    assert decision in ("promoted", "kept")

    # monitors the old champion's version (its reference profile was logged by the old code)
    old_version = champion.version
    labelled = churn.drop(columns=["customer_id"])
    labelled.to_csv(work / "batch.csv", index=False)
    out = run(work, env, "--model", f"models:/{NAME}/{old_version}", "--input", "batch.csv", "--target", "churned",
              "--output", "report", module="runner.monitor")
    assert (work / "report" / "report.md").is_file()
    assert client.get_model_version(NAME, old_version).tags["monitor.status"] in ("ok", "drift", "degraded",
                                                                                  "drift+degraded")

    # reruns the old SMOTETomek run from its logged config (runner.samplers.TomekLinks) with the same metrics
    out = run(work, env, smote_run.info.run_id, module="runner.rerun")
    assert "largest metric difference 0" in out, out
