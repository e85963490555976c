"""The evidence gate (`registry.gate=significant`, the default) on real registries in temp SQLite stores.

Jobs run in-process through the compose API (real Hydra, real MLflow, real estimators); the numbers the
gate records are recomputed here independently, from the two runs' logged predictions/holdout.parquet.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from helpers import ROOT, SYNTH, aliases, assert_one_line_error, compose, compose_with_hydra, train, version_tags
from runner.config import validate
from runner.config.schema import Config
from runner.errors import UserError
from runner.registry import gate as promote
from runner.registry.policy import Policy
from runner.track import names
from runner.train import data, evaluate
from runner.train.uncertainty import paired_bootstrap

REG = ["registry.register=true", "rerun=true"]  # rerun: `registry` is cosmetic, an identical run would be reused
EVIDENCE_TAGS = ("gate.decision", "gate.metric", "gate.challenger_score", "gate.champion_score", "gate.champion_version",
                 "gate.evaluated_on", "gate.rows", "gate.method", "gate.delta", "gate.delta_ci_low",
                 "gate.delta_ci_high", "gate.p_value")
METHOD = "paired bootstrap, 1000 stratified resamples (seed 42), one-sided, alpha=0.05, min_delta=0.0"


# ---------------------------------------------------------------------------------------------------- helpers


def churn(tmp_path: Path) -> list[str]:
    """The churn example (400 customers, 120 held out) copied into the temp folder, as overrides."""
    path = tmp_path / "churn.csv"
    shutil.copyfile(ROOT / "examples" / "churn.csv", path)
    return ["dataset=csv", f"dataset.path={path}", "dataset.target=churned", "dataset.drop=[customer_id]", "model=xgb"]


def registry_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("registry:")]


def holdout(client, name: str, version: str) -> pd.DataFrame:
    """A version's logged held-out predictions, read straight from its run's artifacts."""
    run_id = client.get_model_version(name, version).run_id
    return pd.read_parquet(artifact_file(client, run_id))


def artifact_file(client, run_id: str) -> Path:
    """predictions/holdout.parquet of a run, on disk in the temp store's artifact folder."""
    return Path(urlparse(client.get_run(run_id).info.artifact_uri).path) / names.HOLDOUT_PREDICTIONS


def independent_test(champion: pd.DataFrame, challenger: pd.DataFrame, metric: str = "f1"):
    """The comparison recomputed here: rows in both frames (by position), each model's score there
    (runner.train.evaluate.scores, i.e. scikit-learn), and paired_bootstrap with the default settings."""
    both = champion.merge(challenger, on="row", suffixes=("_a", "_b")).sort_values("row")
    assert (both["label_a"] == both["label_b"]).all()
    y = both["label_a"].to_numpy()
    classes = np.unique(np.concatenate([y, both["prediction_a"], both["prediction_b"]]))
    proba = {s: both[[f"proba_{c}{s}" for c in classes]].to_numpy(dtype=float) for s in ("_a", "_b")}
    a = (both["prediction_a"].to_numpy(), proba["_a"])
    b = (both["prediction_b"].to_numpy(), proba["_b"])
    theirs = evaluate.scores(y, *a, classes)[metric]
    ours = evaluate.scores(y, *b, classes)[metric]
    result = paired_bootstrap(y, a, b, classes, metric, n_resamples=1000, confidence=0.95, seed=42, min_delta=0.0)
    return len(both), theirs, ours, result


def assert_recorded(tags: dict[str, str], n: int, theirs: float, ours: float, result) -> None:
    """The version's gate.* tags are the independently recomputed numbers."""
    for key in EVIDENCE_TAGS:
        assert key in tags, key
    assert int(tags["gate.rows"]) == n == result.n_rows
    assert math.isclose(float(tags["gate.champion_score"]), theirs, abs_tol=1e-12)
    assert math.isclose(float(tags["gate.challenger_score"]), ours, abs_tol=1e-12)
    assert math.isclose(float(tags["gate.delta"]), ours - theirs, abs_tol=1e-12)
    assert math.isclose(float(tags["gate.delta"]), result.delta, abs_tol=1e-12)
    assert float(tags["gate.delta_ci_low"]) == result.ci_low and float(tags["gate.delta_ci_high"]) == result.ci_high
    assert float(tags["gate.p_value"]) == result.p_value
    assert tags["gate.method"] == METHOD


def expected_line(name: str, version: str, champion: str, tags: dict[str, str], where: str) -> str:
    promoted = tags["gate.decision"] == "promoted"
    return (f"registry: {name} v{version} f1={float(tags['gate.challenger_score']):.4f} vs champion v{champion} "
            f"{float(tags['gate.champion_score']):.4f} {where}: \u0394={float(tags['gate.delta']):+.3f}, 95% CI "
            f"[{float(tags['gate.delta_ci_low']):+.3f}, {float(tags['gate.delta_ci_high']):+.3f}], "
            f"p={float(tags['gate.p_value']):.2g}, {'significant' if promoted else 'not significant'}: "
            + (f"champion -> v{version}" if promoted else f"champion stays v{champion}"))


# ---------------------------------------------------------------------------------------------------- config


def test_gate_keys_have_defaults_and_reach_the_policy_from_job_sweep_and_logged_configs() -> None:
    cfg = compose([])
    reg = cfg.registry
    assert (reg.gate, reg.min_delta, reg.alpha, reg.min_rows) == ("significant", 0.0, 0.05, 50)
    validate.config(cfg)
    assert Policy.of(cfg, multirun=False).gate_settings == promote.GateSettings(
        "significant", 0.0, 0.05, 50, resamples=1000, confidence=0.95, seed=42)

    chosen = compose(["registry.gate=better", "registry.min_delta=0.01", "registry.alpha=0.1", "registry.min_rows=20",
                      "eval.bootstrap=200", "eval.confidence=0.9", "seed=3"])
    validate.config(chosen)
    assert Policy.of(chosen, multirun=False).gate_settings == promote.GateSettings("better", 0.01, 0.1, 20, 200, 0.9, 3)

    # the sweep's launching config (hydra node included; runner.sweep.lifecycle builds its Policy from it), eval=cv
    sweep = compose_with_hydra(["eval=cv", "registry.alpha=0.01"])
    assert Policy.of(sweep, multirun=True).gate_settings == promote.GateSettings(alpha=0.01)

    # a config logged before the keys existed still loads (runner.job.rerun merges it into the schema)
    logged = OmegaConf.to_container(compose([]), resolve=True)
    assert isinstance(logged, dict)
    for key in ("gate", "min_delta", "alpha", "min_rows"):
        del logged["registry"][key]
    merged = OmegaConf.merge(OmegaConf.structured(Config), logged)
    assert merged.registry.gate == "significant" and merged.registry.min_rows == 50
    assert Policy.of(merged, multirun=False).gate_settings == promote.GateSettings()


@pytest.mark.parametrize("override, message", [
    ("registry.gate=sometimes", "registry.gate='sometimes': allowed: significant, better"),
    ("registry.alpha=0", "registry.alpha=0.0: must be a number in (0, 1)"),
    ("registry.alpha=1.5", "registry.alpha=1.5: must be a number in (0, 1)"),
    ("registry.min_rows=0", "registry.min_rows=0: must be an integer >= 1"),
    ("registry.min_delta=nan", "registry.min_delta=nan: must be a finite number"),
])
def test_bad_gate_settings_are_one_line_errors_naming_the_key(override: str, message: str) -> None:
    with pytest.raises(UserError) as e:
        validate.config(compose([override]))
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_bad_gate_settings_stop_the_command_line_with_one_line(run_cli) -> None:
    assert_one_line_error(run_cli("registry.alpha=2", check=False), "registry.alpha=2.0: must be a number in (0, 1)")
    assert_one_line_error(run_cli("registry.min_rows=many", check=False), "registry.min_rows=many")


# ---------------------------------------------------------------------------------------------------- decisions


@pytest.mark.slow
def test_churn_resplit_by_seed_never_scores_the_champion_on_its_own_training_rows(
        tmp_path, store_uri, client, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    csv = churn(tmp_path)
    name = "churn-classifier"
    for seed in (42, 7, 8):
        train(store_uri, *csv, "registry.register=true", f"seed={seed}")
    assert aliases(client, name) == {"champion": "1", "challenger": "3"}
    lines = registry_lines(capsys)
    assert lines[0].startswith(f"registry: {name} v1 is the first champion")

    # the rows neither model trained on: the intersection of the two held-out sets, regenerated here
    split = {seed: data.load_split(compose([*csv, f"seed={seed}"]).dataset) for seed in (42, 7, 8)}
    assert all(len(s.X_test) == 120 for s in split.values())
    champion = holdout(client, name, "1")
    for version, seed, line in (("2", 7, lines[1]), ("3", 8, lines[2])):
        common = set(split[42].X_test.index) & set(split[seed].X_test.index)
        assert common == set(champion["row"]) & set(holdout(client, name, version)["row"])
        n = len(common)
        assert 20 <= n < 50
        t = version_tags(client, name, version)
        assert t["gate.decision"] == "kept" and t["gate.evaluated_on"] == "common_rows" and t["gate.rows"] == str(n)
        assert t["gate.champion_version"] == "1"
        assert t["gate.method"] == METHOD.replace("seed 42", f"seed {seed}")  # the deciding (challenger's) config
        assert "gate.p_value" not in t and "gate.champion_score" not in t
        reason = (f"only {n} held-out rows are common to it and champion v1 (registry.min_rows=50): neither may be "
                  f"scored on rows it trained on; split it as the champion was (dataset.test_size=0.3 "
                  f"dataset.random_state=42) to compare them")
        assert t["gate.reason"] == reason
        assert line == f"registry: {name} v{version} kept as challenger: {reason}; champion stays v1"

    # the old rule on the same runs: the champion is rescored on the challenger's split, most of which it trained on
    better = "churn-better"
    for seed in (42, 7):
        train(store_uri, *csv, *REG, f"seed={seed}", "registry.gate=better", f"registry.name={better}")
    t = version_tags(client, better, "2")
    assert t["gate.evaluated_on"] == "challenger_split" and t["gate.decision"] == "kept"
    trained_on = len(set(split[42].X_train.index) & set(split[7].X_test.index)) / 120
    assert trained_on > 0.6
    champion_held_out = client.get_run(version_tags(client, better, "1")["run_id"]).data.metrics["f1"]
    assert float(t["gate.champion_score"]) > champion_held_out + 0.15  # inflated by its own training rows
    (line,) = [x for x in registry_lines(capsys) if " v2 " in x]
    assert "on the challenger's evaluation split (champion rescored): champion stays v1" in line and " < " in line


@pytest.mark.slow
def test_same_data_split_differently_is_compared_on_the_common_held_out_rows(
        tmp_path, store_uri, client, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    train(store_uri, *REG, "model=logreg", "dataset.test_size=0.3")
    train(store_uri, *REG, "model=xgb", "dataset.test_size=0.25")
    champion, challenger = holdout(client, SYNTH, "1"), holdout(client, SYNTH, "2")
    assert (len(champion), len(challenger)) == (300, 250)
    n, theirs, ours, result = independent_test(champion, challenger)
    assert n == len(set(champion["row"]) & set(challenger["row"]))
    t = version_tags(client, SYNTH, "2")
    assert t["gate.evaluated_on"] == "common_rows"
    assert_recorded(t, n, theirs, ours, result)
    assert t["gate.decision"] == "promoted" and result.p_value <= 0.05
    assert aliases(client, SYNTH) == {"champion": "2", "challenger": "2"}
    assert registry_lines(capsys)[-1] == expected_line(SYNTH, "2", "1", t,
                                                       f"on {n} held-out rows neither model trained on")


@pytest.mark.slow
def test_noise_between_identical_configs_is_kept_and_a_clear_win_promoted(
        tmp_path, store_uri, client, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # the same rf config, only model.random_state differs: a strict win of ~0.05 f1, not evidence
    noise = "rf-noise"
    train(store_uri, *REG, "model=rf", "model.random_state=3", f"registry.name={noise}")
    train(store_uri, *REG, "model=rf", f"registry.name={noise}")
    t = version_tags(client, noise, "2")
    n, theirs, ours, result = independent_test(holdout(client, noise, "1"), holdout(client, noise, "2"))
    assert n == 300 and t["gate.evaluated_on"] == "same_split"
    assert_recorded(t, n, theirs, ours, result)
    assert ours > theirs and result.p_value > 0.05 and t["gate.decision"] == "kept"
    assert aliases(client, noise) == {"champion": "1", "challenger": "2"}
    line = registry_lines(capsys)[-1]
    assert line == expected_line(noise, "2", "1", t, "on the same 300 rows")
    assert line.endswith("not significant: champion stays v1")

    # xgb over logreg on the default data: promoted
    train(store_uri, *REG, "model=logreg")
    train(store_uri, *REG, "model=xgb")
    t = version_tags(client, SYNTH, "2")
    n, theirs, ours, result = independent_test(holdout(client, SYNTH, "1"), holdout(client, SYNTH, "2"))
    assert_recorded(t, n, theirs, ours, result)
    assert t["gate.decision"] == "promoted" and t["gate.evaluated_on"] == "same_split"
    assert aliases(client, SYNTH) == {"champion": "2", "challenger": "2"}
    assert registry_lines(capsys)[-1] == expected_line(SYNTH, "2", "1", t, "on the same 300 rows")


@pytest.mark.slow
def test_gate_better_keeps_todays_strict_win_rule_and_line(tmp_path, store_uri, client, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    better = ["registry.gate=better"]
    weak = train(store_uri, *REG, *better, "model=rf", "model.random_state=3")
    proper = train(store_uri, *REG, *better, "model=rf")
    assert proper > weak
    t = version_tags(client, SYNTH, "2")
    assert t["gate.decision"] == "promoted" and t["gate.evaluated_on"] == "same_split"
    assert float(t["gate.challenger_score"]) == proper and float(t["gate.champion_score"]) == weak
    assert "gate.p_value" not in t and "gate.rows" not in t
    assert t["gate.method"] == "strict win on the same evaluation data, no test (registry.gate=better)"
    lines = registry_lines(capsys)
    assert lines[-1] == (f"registry: {SYNTH} v2 f1={proper:.4f} > champion v1 {weak:.4f} on the same evaluation data: "
                         "champion -> v2")
    worse = train(store_uri, *REG, *better, "model=rf", "model.random_state=3")
    assert worse < proper and version_tags(client, SYNTH, "3")["gate.decision"] == "kept"
    assert registry_lines(capsys)[-1] == (f"registry: {SYNTH} v3 f1={worse:.4f} < champion v2 {proper:.4f} on the same "
                                          "evaluation data: champion stays v2")


@pytest.mark.slow
def test_a_champion_logged_without_predictions_is_rescored_and_decided_alike(
        tmp_path, store_uri, client, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # three registries, same champion config; two lose their champion's predictions before the challenger comes
    for name in ("with-predictions", "rebuilt", "rebuilt-common"):
        train(store_uri, *REG, "model=logreg", f"registry.name={name}")
    for name in ("rebuilt", "rebuilt-common"):
        path = artifact_file(client, version_tags(client, name, "1")["run_id"])
        assert path.is_file()
        path.unlink()
    train(store_uri, *REG, "model=xgb", "registry.name=with-predictions")
    train(store_uri, *REG, "model=xgb", "registry.name=rebuilt")
    train(store_uri, *REG, "model=xgb", "dataset.test_size=0.25", "registry.name=rebuilt-common")
    kept, rebuilt = version_tags(client, "with-predictions", "2"), version_tags(client, "rebuilt", "2")
    assert rebuilt["gate.decision"] == kept["gate.decision"] == "promoted"
    for key in EVIDENCE_TAGS:
        if key != "gate.champion_version":
            assert rebuilt[key] == kept[key], key
    # the champion's held-out rows regenerated from its config, intersected with the challenger's
    common = version_tags(client, "rebuilt-common", "2")
    assert common["gate.evaluated_on"] == "common_rows" and common["gate.rows"] == "250"
    assert common["gate.decision"] == "promoted"
    champion_rows = set(data.load_split(compose([]).dataset).X_test.index)
    assert set(holdout(client, "rebuilt-common", "2")["row"]) <= champion_rows
    lines = registry_lines(capsys)
    assert f"registry: rebuilt v2 f1={float(rebuilt['gate.challenger_score']):.4f} vs champion v1" in lines[-2]
    assert "on 250 held-out rows neither model trained on" in lines[-1]


@pytest.mark.slow
def test_too_few_rows_and_an_unscorable_champion_keep_it_with_a_reason(
        tmp_path, store_uri, client, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Iris holds out 45 rows: fewer than registry.min_rows even on the same split
    train(store_uri, *REG, "dataset=iris", "model=logreg", "model.C=0.01")
    train(store_uri, *REG, "dataset=iris", "model=logreg")
    t = version_tags(client, "iris-classifier", "2")
    assert t["gate.decision"] == "kept" and t["gate.evaluated_on"] == "same_split" and t["gate.rows"] == "45"
    assert t["gate.reason"].startswith("its 45 held-out rows, shared with champion v1, are fewer than "
                                       "registry.min_rows=50")
    # ... a lower floor lets the test decide
    train(store_uri, *REG, "dataset=iris", "model=logreg", "registry.min_rows=40")
    t = version_tags(client, "iris-classifier", "3")
    assert t["gate.rows"] == "45" and "gate.p_value" in t and "gate.reason" not in t

    # another dataset under the same registered name: the champion cannot be scored on the challenger's rows
    train(store_uri, *REG, "model=logreg", "registry.name=iris-classifier")
    t = version_tags(client, "iris-classifier", "4")
    assert t["gate.decision"] == "kept" and t["gate.evaluated_on"] == "challenger_split"
    assert t["gate.reason"].startswith("the champion cannot be scored on its evaluation data (")
    line = registry_lines(capsys)[-1]
    assert line.startswith("registry: iris-classifier v4 kept as challenger: the champion cannot be scored")
    assert line.endswith(f"; champion stays v{aliases(client, 'iris-classifier')['champion']}")
