"""The promotion gate on a real registry in a temp SQLite store (jobs run in-process via the compose API)."""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest

from conftest import compose
from runner import data, evaluate, job, promote

SYNTH = "synthetic-imbalanced-classifier"
BASE = ["registry.register=true", "dataset.n_samples=400"]
WEAK = ["model.C=0.0001"]  # heavily regularised logreg: predicts the majority class


def train(store_uri: str, *overrides: str) -> float:
    """One single-run job against the temp store; returns its optimized_metric."""
    return job.run(compose([f"mlflow.tracking_uri={store_uri}", *overrides]))


def aliases(client, name: str) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}


def vtags(client, name: str, version: str) -> dict[str, str]:
    return client.get_model_version(name, version).tags


def test_champion_moves_only_on_improvement_and_ties_keep(store_uri, client, capsys) -> None:
    weak = train(store_uri, *BASE, *WEAK)
    assert aliases(client, SYNTH) == {"champion": "1", "challenger": "1"}
    first = vtags(client, SYNTH, "1")
    assert first[promote.DECISION_TAG] == "first"
    run = client.get_run(first["run_id"])
    for key in ("identity", "model", "sampler", "dataset", "data_digest", "git_commit", "code_version"):
        assert first[key] == run.data.tags[f"runner.{key}"], key
    assert float(first["metric.f1"]) == run.data.metrics["f1"]
    assert float(first["metric.roc_auc"]) == run.data.metrics["roc_auc"]
    assert "is the first champion" in capsys.readouterr().out

    proper = train(store_uri, *BASE)
    assert proper > weak
    assert aliases(client, SYNTH) == {"champion": "2", "challenger": "2"}
    t = vtags(client, SYNTH, "2")
    assert t[promote.DECISION_TAG] == "promoted" and t["gate.evaluated_on"] == "same_split"
    assert float(t["gate.challenger_score"]) == proper and float(t["gate.champion_score"]) == weak
    assert t["gate.champion_version"] == "1"
    out = capsys.readouterr().out.strip().splitlines()
    assert [line for line in out if line.startswith("registry:")] == [
        f"registry: {SYNTH} v2 f1={proper:.4f} > champion v1 {weak:.4f} on the same evaluation data: champion -> v2"]

    # the same config trained again scores exactly the same: a tie keeps the champion
    tie = train(store_uri, *BASE, "rerun=true")
    assert tie == proper
    assert aliases(client, SYNTH) == {"champion": "2", "challenger": "3"}
    assert vtags(client, SYNTH, "3")[promote.DECISION_TAG] == "kept"
    assert "champion stays v2" in capsys.readouterr().out

    # worse keeps it too
    worse = train(store_uri, *BASE, *WEAK, "rerun=true")
    assert worse < proper
    assert aliases(client, SYNTH) == {"champion": "2", "challenger": "4"}
    assert vtags(client, SYNTH, "4")[promote.DECISION_TAG] == "kept"

    # an identical FINISHED run is reused, not registered again
    train(store_uri, *BASE)
    assert len(client.search_model_versions(f"name='{SYNTH}'")) == 4


def test_promote_false_turns_the_gate_off(store_uri, client, capsys) -> None:
    train(store_uri, *BASE, "registry.promote=false")
    assert aliases(client, SYNTH) == {"challenger": "1"}  # not even the first version becomes champion
    assert vtags(client, SYNTH, "1")[promote.DECISION_TAG] == "off"
    assert "promotion is off (registry.promote=false)" in capsys.readouterr().out
    train(store_uri, *BASE, "model=rf", "registry.promote=false")
    assert aliases(client, SYNTH) == {"challenger": "2"}
    # gate on again (and register=best in a single run: the run is its own best job): first champion
    train(store_uri, "registry.register=best", "dataset.n_samples=400", "model=xgb")
    assert aliases(client, SYNTH) == {"challenger": "3", "champion": "3"}
    assert vtags(client, SYNTH, "3")[promote.DECISION_TAG] == "first"


def rescored_by_hand(name: str, version: str, challenger_overrides: list[str], metric: str) -> float:
    """The champion scored on the challenger's held-out split, computed here independently."""
    split = data.load_split(compose(challenger_overrides).dataset)
    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    scores = evaluate.scores(split.y_test, model.predict(split.X_test), model.predict_proba(split.X_test),
                             np.asarray(model.classes_))
    return scores[metric]


def test_gate_rescores_the_champion_on_other_evaluation_data_under_the_lock(store_uri, client) -> None:
    champion_f1 = train(store_uri, *BASE)
    assert aliases(client, SYNTH)["champion"] == "1"

    # The challenger is trained on other data (n_samples=500 is a different synthetic dataset).
    # It registers, then waits for the decision lock this test holds: nothing is decided meanwhile.
    other = [*BASE, "dataset.n_samples=500"]
    cfg = compose([f"mlflow.tracking_uri={store_uri}", *other])
    result: dict[str, float] = {}
    worker = threading.Thread(target=lambda: result.update(f1=job.run(cfg)))
    with promote.decision_lock(store_uri):
        worker.start()
        deadline = time.time() + 120
        while "2" not in {str(v.version) for v in client.search_model_versions(f"name='{SYNTH}'")}:
            assert time.time() < deadline and worker.is_alive(), "the challenger never registered"
            time.sleep(0.2)
        worker.join(timeout=2)
        assert worker.is_alive(), "the gate decided without the lock"
        assert promote.DECISION_TAG not in vtags(client, SYNTH, "2")
        assert aliases(client, SYNTH) == {"champion": "1", "challenger": "2"}
    worker.join(timeout=120)
    assert not worker.is_alive()
    # the lock lives beside the SQLite file; for a server, a per-URI file on this machine
    assert promote.lock_path(store_uri).parent == Path(store_uri.replace("sqlite:///", "")).parent
    assert promote.lock_path("http://a:5000") != promote.lock_path("http://b:5000")

    t = vtags(client, SYNTH, "2")
    assert t["data_digest"] != vtags(client, SYNTH, "1")["data_digest"]
    assert t["gate.evaluated_on"] == "challenger_split"
    challenger = float(t["gate.challenger_score"])
    assert challenger == result["f1"]
    rescored = float(t["gate.champion_score"])
    assert math.isclose(rescored, rescored_by_hand(SYNTH, "1", other, "f1"), abs_tol=1e-12)
    # comparing the logged numbers (two different test sets) would decide the other way
    assert (challenger > champion_f1) != (challenger > rescored)
    expected = "promoted" if challenger > rescored else "kept"
    assert t[promote.DECISION_TAG] == expected
    assert aliases(client, SYNTH)["champion"] == ("2" if expected == "promoted" else "1")

    # Same full data (Iris) split differently: the digests agree, the evaluation rows do not.
    train(store_uri, "dataset=iris", "registry.register=true")
    half = ["dataset=iris", "registry.register=true", "dataset.test_size=0.5"]
    train(store_uri, *half)
    a, b = vtags(client, "iris-classifier", "1"), vtags(client, "iris-classifier", "2")
    assert a["data_digest"] == b["data_digest"]
    assert b["gate.evaluated_on"] == "challenger_split"
    assert math.isclose(float(b["gate.champion_score"]), rescored_by_hand("iris-classifier", "1", half, "f1"),
                        abs_tol=1e-12)


def test_register_best_registers_one_version_per_sweep_and_the_sweep_decides(run_cli, client) -> None:
    # one job fails (C=-1.0): Hydra skips on_multirun_end, the best finished job is still registered
    proc = run_cli("-m", "model.C=1.0,-1.0", "registry.register=best", "dataset.n_samples=400", check=False)
    assert proc.returncode == 1
    versions = client.search_model_versions(f"name='{SYNTH}'")
    assert len(versions) == 1
    run = client.get_run(versions[0].run_id)
    assert run.info.status == "FINISHED" and run.data.params["model.C"] == "1.0"
    assert aliases(client, SYNTH) == {"champion": "1", "challenger": "1"}
    assert f"registry: {SYNTH} v1 is the first champion" in proc.stdout

    # register=true: jobs register (challenger), the launching process gates each new version after the table
    proc = run_cli("-m", "model=logreg,rf", "registry.register=true", "dataset.n_samples=400")
    versions = {str(v.version): v for v in client.search_model_versions(f"name='{SYNTH}'")}
    assert sorted(versions) == ["1", "2"]  # logreg was reused (identical to the first sweep's job)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("registry:")]
    assert [line.split()[2] for line in lines] == ["v2"]
    assert proc.stdout.index(lines[0]) > proc.stdout.index("jobs by f1")
    champion = "1"
    for v in ("2",):
        t = vtags(client, SYNTH, v)
        assert t["gate.champion_version"] == champion and t["gate.evaluated_on"] == "same_split"
        better = float(t["gate.challenger_score"]) > float(t["gate.champion_score"])
        assert t[promote.DECISION_TAG] == ("promoted" if better else "kept")
        champion = v if better else champion
    assert aliases(client, SYNTH)["champion"] == champion


def test_a_registration_that_fails_after_creating_its_version_leaves_no_version(store_uri, client) -> None:
    """No registry version from a failed job: here the run to tag does not exist."""
    from mlflow.exceptions import MlflowException

    from runner import registry

    train(store_uri, *BASE)
    (run,) = client.search_runs([client.get_experiment_by_name("synthetic-imbalanced").experiment_id])
    with pytest.raises(MlflowException):
        registry.register(client, run.data.tags["runner.model_uri"], SYNTH, "f" * 32, {})
    assert [str(v.version) for v in client.search_model_versions(f"name = '{SYNTH}'")] == ["1"]
