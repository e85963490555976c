"""The Iris stage end to end: weak models registered, a proper one promoted, served over REST by MLflow."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from helpers import compose, free_port
from runner.train import data

pytestmark = pytest.mark.slow  # sweeps in subprocesses, then `mlflow models serve`

NAME = "iris-classifier"
CHAMPION = f"models:/{NAME}@champion"


def wait_ready(proc: subprocess.Popen, url: str, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow models serve exited {proc.returncode}: see its log")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise AssertionError(f"mlflow models serve did not answer {url} within {timeout:.0f}s")


def post(url: str, frame: pd.DataFrame) -> list:
    body = json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())["predictions"]


def test_iris_stage_weak_models_then_champion_served_over_rest(run_cli, client, store_uri, tmp_path) -> None:
    # stage 4 of the tutorial: both weak models registered; the sweep decides which one is champion
    # Iris holds out 45 rows, fewer than the gate's default registry.min_rows=50 (README "The Iris stage")
    proc = run_cli("-m", "experiment=iris-underfit", "registry.min_rows=40")
    weak = {str(v.version): client.get_run(v.run_id).data.metrics["f1"]
            for v in client.search_model_versions(f"name='{NAME}'")}
    assert sorted(weak) == ["1", "2"]
    assert sum(line.startswith(f"registry: {NAME}") for line in proc.stdout.splitlines()) == 2
    best_weak = max(weak, key=lambda v: (weak[v], -int(v)))  # ties keep the earlier version
    assert str(client.get_registered_model(NAME).aliases["champion"]) == best_weak

    # a properly configured model beats both on the same evaluation data and takes the alias
    proc = run_cli("dataset=iris", "model=logreg", "registry.register=true", "registry.min_rows=40")
    assert "champion -> v3" in proc.stdout
    champion = client.get_model_version_by_alias(NAME, "champion")
    assert str(champion.version) == "3"
    proper = client.get_run(champion.run_id).data.metrics["f1"]
    assert all(proper > f1 + 0.1 for f1 in weak.values())

    # batch prediction with the champion
    X = data.load_split(compose(["dataset=iris"]).dataset).X_test.reset_index(drop=True)
    rows, out = tmp_path / "rows.csv", tmp_path / "predictions.csv"
    X.to_csv(rows, index=False)
    run_cli("--model", CHAMPION, "--input", str(rows), "--output", str(out), module="runner.predict")
    batch = pd.read_csv(out)["prediction"].tolist()

    # the same champion over REST with MLflow's own server
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # `mlflow models serve` starts `uvicorn` from PATH
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    with open(tmp_path / "serve.log", "wb") as log:  # the server writes to its own copy of the descriptor
        server = subprocess.Popen(
            [os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", CHAMPION, "--env-manager", "local",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_ready(server, f"http://127.0.0.1:{port}/ping")
        served = post(f"http://127.0.0.1:{port}/invocations", X)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    assert served == batch, (tmp_path / "serve.log").read_text()
    assert len(set(served)) == 3
