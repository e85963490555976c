"""The promotion gate (runner.registry.gate) on a real registry in a temp SQLite store (jobs run in-process via the compose API)."""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from helpers import SYNTH, aliases, compose, train, version_tags
from runner.job import run as job
from runner.registry import gate as promote
from runner.track import locks
from runner.train import data, evaluate

# registry.gate=better: the rule these end-to-end tests pin down (any strict win on the same evaluation data, else
# the champion rescored on the challenger's split); the default `significant` rule: test_gate_evidence.py and below.
BASE = ["registry.register=true", "dataset.n_samples=400", "registry.gate=better"]

WEAK = ["model.C=0.0001"]  # heavily regularised logreg: predicts the majority class



@pytest.mark.slow
def test_champion_moves_only_on_improvement_and_ties_keep(store_uri, client, capsys) -> None:
    weak = train(store_uri, *BASE, *WEAK)
    assert aliases(client, SYNTH) == {"champion": "1", "challenger": "1"}
    first = version_tags(client, SYNTH, "1")
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
    t = version_tags(client, SYNTH, "2")
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
    assert version_tags(client, SYNTH, "3")[promote.DECISION_TAG] == "kept"
    assert "champion stays v2" in capsys.readouterr().out

    # worse keeps it too
    worse = train(store_uri, *BASE, *WEAK, "rerun=true")
    assert worse < proper
    assert aliases(client, SYNTH) == {"champion": "2", "challenger": "4"}
    assert version_tags(client, SYNTH, "4")[promote.DECISION_TAG] == "kept"

    # an identical FINISHED run is reused, not registered again
    train(store_uri, *BASE)
    assert len(client.search_model_versions(f"name='{SYNTH}'")) == 4


@pytest.mark.slow
def test_promote_false_turns_the_gate_off(store_uri, client, capsys) -> None:
    train(store_uri, *BASE, "registry.promote=false")
    assert aliases(client, SYNTH) == {"challenger": "1"}  # not even the first version becomes champion
    assert version_tags(client, SYNTH, "1")[promote.DECISION_TAG] == "off"
    assert "promotion is off (registry.promote=false)" in capsys.readouterr().out
    train(store_uri, *BASE, "model=rf", "registry.promote=false")
    assert aliases(client, SYNTH) == {"challenger": "2"}
    # gate on again (and register=best in a single run: the run is its own best job): first champion
    train(store_uri, "registry.register=best", "dataset.n_samples=400", "model=xgb")
    assert aliases(client, SYNTH) == {"challenger": "3", "champion": "3"}
    assert version_tags(client, SYNTH, "3")[promote.DECISION_TAG] == "first"


def rescored_by_hand(name: str, version: str, challenger_overrides: list[str], metric: str) -> float:
    """The champion scored on the challenger's held-out split, computed here independently."""
    split = data.load_split(compose(challenger_overrides).dataset)
    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    scores = evaluate.scores(split.y_test, model.predict(split.X_test), model.predict_proba(split.X_test),
                             np.asarray(model.classes_))
    return scores[metric]


@pytest.mark.slow
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
        assert promote.DECISION_TAG not in version_tags(client, SYNTH, "2")
        assert aliases(client, SYNTH) == {"champion": "1", "challenger": "2"}
    worker.join(timeout=120)
    assert not worker.is_alive()
    # the lock lives beside the SQLite file; for a server, a per-URI file on this machine
    assert locks.lock_path(store_uri, "promote").parent == Path(store_uri.replace("sqlite:///", "")).parent
    assert locks.lock_path("http://a:5000", "promote") != locks.lock_path("http://b:5000", "promote")

    t = version_tags(client, SYNTH, "2")
    assert t["data_digest"] != version_tags(client, SYNTH, "1")["data_digest"]
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
    train(store_uri, "dataset=iris", "registry.register=true", "registry.gate=better")
    half = ["dataset=iris", "registry.register=true", "dataset.test_size=0.5", "registry.gate=better"]
    train(store_uri, *half)
    a, b = version_tags(client, "iris-classifier", "1"), version_tags(client, "iris-classifier", "2")
    assert a["data_digest"] == b["data_digest"]
    assert b["gate.evaluated_on"] == "challenger_split"
    assert math.isclose(float(b["gate.champion_score"]), rescored_by_hand("iris-classifier", "1", half, "f1"),
                        abs_tol=1e-12)



# ---- the decision itself, in this process

@pytest.mark.parametrize("decision, line, tags", [
    (promote.Decision("m", "1", "first", "f1", 0.9),
     "registry: m v1 is the first champion (f1=0.9000)",
     {"gate.decision": "first", "gate.metric": "f1", "gate.challenger_score": "0.9"}),
    (promote.Decision("m", "3", "promoted", "f1", 0.9, "2", 0.8125),
     "registry: m v3 f1=0.9000 > champion v2 0.8125 on the same evaluation data: champion -> v3",
     {"gate.decision": "promoted", "gate.metric": "f1", "gate.challenger_score": "0.9", "gate.champion_version": "2",
      "gate.evaluated_on": "same_split", "gate.champion_score": "0.8125"}),
    (promote.Decision("m", "3", "promoted", "roc_auc", 0.9, "2", 0.8, rescored=True),
     "registry: m v3 roc_auc=0.9000 > champion v2 0.8000 on the challenger's evaluation split (champion rescored): "
     "champion -> v3",
     {"gate.decision": "promoted", "gate.metric": "roc_auc", "gate.challenger_score": "0.9", "gate.champion_version": "2",
      "gate.evaluated_on": "challenger_split", "gate.champion_score": "0.8"}),
    (promote.Decision("m", "3", "kept", "f1", 0.8, "2", 0.8),
     "registry: m v3 f1=0.8000 = champion v2 0.8000 on the same evaluation data: champion stays v2", None),
    (promote.Decision("m", "3", "kept", "f1", 0.7, "2", 0.8),
     "registry: m v3 f1=0.7000 < champion v2 0.8000 on the same evaluation data: champion stays v2", None),
    (promote.Decision("m", "3", "kept", "f1", math.nan, "2", reason="it has no f1"),
     "registry: m v3 kept as challenger: it has no f1; champion stays v2",
     {"gate.decision": "kept", "gate.metric": "f1", "gate.champion_version": "2", "gate.evaluated_on": "same_split",
      "gate.reason": "it has no f1"}),
    (promote.Decision("m", "3", "off", "f1"),
     "registry: m v3 is the challenger; promotion is off (registry.promote=false), champion unchanged",
     {"gate.decision": "off", "gate.metric": "f1"}),
])
def test_each_outcome_is_one_line_and_its_tags(decision: promote.Decision, line: str, tags) -> None:
    assert decision.line() == line
    if tags is not None:
        assert decision.tags() == tags
    assert decision.promoted == (decision.outcome in ("first", "promoted"))


def test_the_session_stores_versions_were_evaluated_alike_or_not(model_store) -> None:
    client = model_store.client

    def entities(name: str, version: str):
        mv = client.get_model_version(name, version)
        return mv, client.get_run(mv.run_id)

    weak, proper, iris = entities(SYNTH, "1"), entities(SYNTH, "2"), entities("iris-classifier", "1")
    assert promote.same_evaluation(weak, proper) and promote.same_evaluation(proper, weak)
    assert not promote.same_evaluation(proper, iris)


@pytest.fixture
def registry(client, store_uri: str, tmp_path: Path):
    """Hand-made versions of model `m` in a fresh store: `make(metrics, digest, params)` -> version."""
    from runner.track import names, store

    experiment = store.prepare(store_uri, "gate")
    client.create_registered_model("m")
    (tmp_path / "model").mkdir()

    def make(metrics: dict, digest: str = "d" * 32, params: dict | None = None) -> str:
        run = client.create_run(experiment, tags={names.DATA_DIGEST: digest} if digest else {})
        for key, value in {"dataset.test_size": "0.3", "dataset.random_state": "42", **(params or {})}.items():
            client.log_param(run.info.run_id, key, value)
        for key, value in metrics.items():
            client.log_metric(run.info.run_id, key, value)
        tags = {"data_digest": digest} if digest else {}
        return str(client.create_model_version("m", str(tmp_path / "model"), run_id=run.info.run_id, tags=tags).version)

    return make


def test_hand_made_versions_are_the_same_evaluation_only_with_digest_and_split(client, registry) -> None:
    def entities(version: str):
        mv = client.get_model_version("m", version)
        return mv, client.get_run(mv.run_id)

    base = entities(registry({"f1": 0.5}))
    assert promote.same_evaluation(base, entities(registry({"f1": 0.6})))
    assert not promote.same_evaluation(base, entities(registry({"f1": 0.6}, digest="e" * 32)))
    assert not promote.same_evaluation(base, entities(registry({"f1": 0.6}, params={"dataset.test_size": "0.5"})))
    assert not promote.same_evaluation(base, entities(registry({"f1": 0.6}, params={"dataset.random_state": "1"})))
    no_digest = entities(registry({"f1": 0.6}, digest=""))
    assert not promote.same_evaluation(no_digest, no_digest)  # nothing says what data it saw


BETTER = promote.GateSettings(rule=promote.BETTER)


def test_better_moves_the_champion_on_any_strict_win(client, registry) -> None:
    first = promote.decide(client, "m", registry({"f1": 0.5}), "f1", BETTER)
    assert (first.outcome, aliases(client, "m")) == ("first", {"champion": "1"})
    assert promote.decide(client, "m", "1", "f1", BETTER).reason == "already the champion"
    tie = promote.decide(client, "m", registry({"f1": 0.5}), "f1", BETTER)
    assert (tie.outcome, tie.champion_score, tie.rescored) == ("kept", 0.5, False)
    better = promote.decide(client, "m", registry({"f1": 0.75}), "f1", BETTER)
    assert (better.outcome, better.champion_version, aliases(client, "m")["champion"]) == ("promoted", "1", "3")
    worse = promote.decide(client, "m", registry({"f1": 0.7}), "f1", BETTER)
    assert worse.outcome == "kept" and aliases(client, "m")["champion"] == "3"


def test_better_keeps_the_champion_when_there_is_nothing_to_compare(client, registry) -> None:
    promote.decide(client, "m", registry({"roc_auc": 0.5}), "f1", BETTER)  # the first champion, whatever its scores
    no_metric = promote.decide(client, "m", registry({"roc_auc": 0.9}), "f1", BETTER)
    assert no_metric.reason == "it has no f1 (was it evaluated on this kind of data?)"
    champion_lacks = promote.decide(client, "m", registry({"f1": 0.9}), "f1", BETTER)
    assert champion_lacks.reason == "the champion has no f1 on this evaluation data to compare with"
    unscorable = promote.decide(client, "m", registry({"f1": 0.9}, digest="e" * 32), "f1", BETTER)
    assert unscorable.rescored and unscorable.reason.startswith("the champion cannot be scored on its evaluation data (")
    assert aliases(client, "m")["champion"] == "1"
    assert all(d.outcome == "kept" for d in (no_metric, champion_lacks, unscorable))


def test_gate_decides_each_version_once_and_records_it(client, registry, store_uri: str, capsys) -> None:
    v1 = registry({"f1": 0.5})
    decision = promote.gate(client, store_uri, "m", v1, "f1")
    assert decision.outcome == "first" and version_tags(client, "m", v1)["gate.decision"] == "first"
    assert promote.gate(client, store_uri, "m", v1, "f1") is None  # decided already
    v2 = registry({"f1": 0.9})
    off = promote.gate(client, store_uri, "m", v2, "f1", enabled=False)
    assert off.outcome == "off" and version_tags(client, "m", v2)["gate.decision"] == "off"
    assert aliases(client, "m")["champion"] == "1"
    out = capsys.readouterr().out.splitlines()
    assert out == ["registry: m v1 is the first champion (f1=0.5000)",
                   "registry: m v2 is the challenger; promotion is off (registry.promote=false), champion unchanged"]


# ---- registry.gate=significant on hand-made held-out predictions (predictions/holdout.parquet)

def holdout(rows, accuracy: float, seed: int) -> pd.DataFrame:
    """Predictions of 2 classes on `rows` (positions in the full data) that are right a share `accuracy` of the time."""
    from runner.train import evaluate

    rng = np.random.default_rng(seed)
    rows = np.asarray(rows)
    y = rows % 2
    right = rng.random(len(rows)) < accuracy
    pred = np.where(right, y, 1 - y)
    p1 = np.clip(np.where(pred == 1, 0.75, 0.25) + rng.normal(0, 0.1, len(rows)), 0.01, 0.99)
    return evaluate.prediction_frame(rows, y, pred, np.c_[1 - p1, p1], np.array([0, 1]))


@pytest.fixture
def significant(client, store_uri: str, tmp_path: Path):
    """`make(frame, metrics, digest, params)` -> a version of `m` whose run logged `frame` as its held-out predictions."""
    from runner.track import names, store

    experiment = store.prepare(store_uri, "significant")
    client.create_registered_model("m")
    (tmp_path / "model").mkdir()

    def make(frame, digest: str = "d" * 32, params: dict | None = None) -> str:
        run_id = client.create_run(experiment, tags={names.DATA_DIGEST: digest}).info.run_id
        for key, value in {"dataset.test_size": "0.3", "dataset.random_state": "42", **(params or {})}.items():
            client.log_param(run_id, key, value)
        from runner.train import evaluate

        scores = evaluate.scores(frame["label"], frame["prediction"], frame[["proba_0", "proba_1"]].to_numpy(),
                                 np.array([0, 1]))
        client.log_metric(run_id, "f1", scores["f1"])
        folder = tmp_path / run_id / "predictions"
        folder.mkdir(parents=True)
        frame.to_parquet(folder / "holdout.parquet")
        client.log_artifact(run_id, str(folder / "holdout.parquet"), "predictions")
        return str(client.create_model_version("m", str(tmp_path / "model"), run_id=run_id,
                                               tags={"data_digest": digest}).version)

    return make


def test_a_clearly_better_challenger_on_the_same_rows_is_promoted_with_its_evidence(client, significant) -> None:
    from runner.train import evaluate
    from runner.train.uncertainty import paired_bootstrap

    rows = np.arange(400)
    promote.decide(client, "m", significant(holdout(rows, 0.6, 1)), "f1")
    champion, challenger = holdout(rows, 0.6, 1), holdout(rows, 0.9, 2)
    decision = promote.decide(client, "m", significant(challenger), "f1")
    assert decision.outcome == "promoted" and aliases(client, "m")["champion"] == "2"
    ev = decision.evidence
    assert (ev.evaluated_on, ev.rows) == ("same_split", 400) and not decision.rescored
    classes = np.array([0, 1])
    ours = evaluate.scores(challenger["label"], challenger["prediction"], challenger[["proba_0", "proba_1"]].to_numpy(), classes)
    theirs = evaluate.scores(champion["label"], champion["prediction"], champion[["proba_0", "proba_1"]].to_numpy(), classes)
    assert (decision.challenger_score, decision.champion_score) == (ours["f1"], theirs["f1"])
    expected = paired_bootstrap(champion["label"].to_numpy(),
                                (champion["prediction"].to_numpy(), champion[["proba_0", "proba_1"]].to_numpy()),
                                (challenger["prediction"].to_numpy(), challenger[["proba_0", "proba_1"]].to_numpy()),
                                classes, "f1", n_resamples=1000, confidence=0.95, seed=42, min_delta=0.0)
    assert (ev.delta, ev.ci_low, ev.ci_high, ev.p_value) == (expected.delta, expected.ci_low, expected.ci_high, expected.p_value)
    assert ev.p_value <= 0.05 and ev.delta > 0.2
    line = decision.line()
    assert line.startswith(f"registry: m v2 f1={ours['f1']:.4f} vs champion v1 {theirs['f1']:.4f} on the same 400 rows: ")
    assert line.endswith("significant: champion -> v2") and "95% CI [" in line
    tags = decision.tags()
    assert tags["gate.evaluated_on"] == "same_split" and tags["gate.rows"] == "400"
    assert tags["gate.p_value"] == repr(ev.p_value) and tags["gate.method"].startswith("paired bootstrap, 1000 stratified")


def test_a_challenger_no_better_than_chance_stays_a_challenger(client, significant) -> None:
    rows = np.arange(300)
    promote.decide(client, "m", significant(holdout(rows, 0.8, 1)), "f1")
    decision = promote.decide(client, "m", significant(holdout(rows, 0.8, 5)), "f1")
    assert decision.outcome == "kept" and decision.evidence.p_value > 0.05
    assert decision.line().endswith("not significant: champion stays v1")
    stricter = promote.GateSettings(min_delta=0.5)
    much_better = promote.decide(client, "m", significant(holdout(rows, 1.0, 6)), "f1", stricter)
    assert much_better.outcome == "kept" and "not significant over min_delta=0.5" in much_better.line()


def test_too_few_or_one_sided_rows_keep_the_champion_and_say_why(client, significant) -> None:
    promote.decide(client, "m", significant(holdout(np.arange(0, 300), 0.6, 1)), "f1")
    few = promote.decide(client, "m", significant(holdout(np.arange(0, 300), 0.9, 2)), "f1",
                         promote.GateSettings(min_rows=1000))
    assert few.reason == ("its 300 held-out rows, shared with champion v1, are fewer than registry.min_rows=1000: too few to "
                          "tell them apart (hold out more rows with dataset.test_size, or lower registry.min_rows)")
    # the same data split differently: only the rows both held out are fair, here 10 of them
    other_split = promote.decide(client, "m", significant(holdout(np.arange(290, 600), 0.9, 3),
                                                          params={"dataset.test_size": "0.5"}), "f1")
    assert other_split.evidence.evaluated_on == "common_rows" and other_split.evidence.rows == 10
    assert other_split.reason == ("only 10 held-out rows are common to it and champion v1 (registry.min_rows=50): neither "
                                  "may be scored on rows it trained on; split it as the champion was "
                                  "(dataset.test_size=0.3 dataset.random_state=42) to compare them")
    evens = np.arange(0, 600, 2)  # every row of class 0
    promote.decide(client, "m", significant(holdout(evens, 0.9, 4)), "f1", promote.GateSettings(min_rows=10))
    assert "hold no row of class 1" in promote.decide(client, "m", significant(holdout(evens, 0.9, 4)), "f1").reason


def test_a_champion_that_cannot_be_scored_on_the_challengers_rows_stays(client, significant) -> None:
    promote.decide(client, "m", significant(holdout(np.arange(300), 0.6, 1)), "f1")
    other_data = promote.decide(client, "m", significant(holdout(np.arange(300), 0.9, 2), digest="e" * 32), "f1")
    assert other_data.outcome == "kept" and other_data.rescored
    assert other_data.reason.startswith("the champion cannot be scored on its evaluation data (")
    assert other_data.tags()["gate.evaluated_on"] == "challenger_split" and "gate.rows" not in other_data.tags()


def test_the_gate_settings_of_a_config() -> None:
    cfg = compose(["registry.gate=better", "registry.min_delta=0.02", "registry.alpha=0.01", "registry.min_rows=80",
                   "seed=3"])
    settings = promote.settings_of(cfg)
    assert (settings.rule, settings.min_delta, settings.alpha, settings.min_rows, settings.seed) == ("better", 0.02, 0.01, 80, 3)
    assert settings.method == "strict win on the same evaluation data, no test (registry.gate=better)"
    assert promote.settings_of(compose([])) == promote.GateSettings(resamples=settings.resamples,
                                                                      confidence=settings.confidence)
