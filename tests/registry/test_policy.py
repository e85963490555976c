"""When a model is registered and when the gate decides (runner.registry.policy)."""
from __future__ import annotations

import pytest

from helpers import SYNTH, aliases, compose, version_tags
from runner.registry import gate as promote
from runner.registry.policy import Policy
from runner.track import names


@pytest.mark.slow
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
        t = version_tags(client, SYNTH, v)
        assert t["gate.champion_version"] == champion and t["gate.evaluated_on"] == "same_split"
        better = float(t["gate.challenger_score"]) > float(t["gate.champion_score"])
        assert t[promote.DECISION_TAG] == ("promoted" if better else "kept")
        champion = v if better else champion
    assert aliases(client, SYNTH)["champion"] == champion



# ---- the policy in this process

def policy(register, multirun: bool, promote_: bool = True) -> Policy:
    return Policy(register, "m", promote_, "f1", multirun)


@pytest.mark.parametrize("register, multirun, each", [
    (True, False, True), (True, True, True),
    ("best", False, True),  # a single run is its own best job
    ("best", True, False),  # a sweep registers its best job at the end
    (False, False, False), (False, True, False),
])
def test_registers_each_job_truth_table(register, multirun: bool, each: bool) -> None:
    assert policy(register, multirun).registers_each_job is each


def test_the_policy_of_a_composed_config() -> None:
    p = Policy.of(compose(["registry.register=best", "registry.promote=false", "optimized_metric=roc_auc",
                           "dataset=iris"]), multirun=True)
    assert p == Policy("best", "iris-classifier", False, "roc_auc", True)


def test_what_a_policy_that_registers_nothing_does_nothing_with(client, store_uri: str) -> None:
    from runner.track import store

    run = client.create_run(store.prepare(store_uri, "p"), tags={names.MODEL_URI: "models:/m-x"})
    off = policy(False, multirun=False)
    assert off.register_job(client, run.info.run_id, "models:/m-x", {}, {}) is None
    off.adopt(client, store_uri, client.get_run(run.info.run_id))
    off.after_sweep(client, store_uri, [])
    assert policy(True, multirun=True).after_job(client, store_uri, run.info.run_id) is None  # the sweep decides
    assert policy(True, multirun=False).after_job(client, store_uri, run.info.run_id) is None  # not registered
    assert client.search_registered_models() == []


def test_register_best_registers_the_best_finished_scored_job_and_the_gate_decides(store_copy, capsys) -> None:
    """On a copy of the session store: its proper logreg run, as if not registered yet, is a sweep's best job."""
    from types import SimpleNamespace

    client, uri = store_copy.client, store_copy.uri
    trained = client.get_run(client.get_model_version(SYNTH, "2").run_id)
    client.delete_tag(trained.info.run_id, names.REGISTERED_VERSION)
    experiment = trained.info.experiment_id
    failed = client.create_run(experiment).info.run_id
    unscored = client.create_run(experiment).info.run_id
    client.set_terminated(unscored, "FINISHED")

    def row(job: str, run_id: str, status: str, metrics: dict) -> SimpleNamespace:
        return SimpleNamespace(job=job, run_id=run_id, status=status, metrics=metrics, label=f"#{job} logreg+none")

    ranked = [row("0", failed, "FAILED", {}), row("1", unscored, "FINISHED", {"roc_auc": 0.9}),
              row("2", trained.info.run_id, "FINISHED", dict(trained.data.metrics))]
    Policy("best", "best-of", True, "f1", True).after_sweep(client, uri, ranked)
    (version,) = client.search_model_versions("name='best-of'")
    assert version.run_id == trained.info.run_id
    assert client.get_run(trained.info.run_id).data.tags[names.REGISTERED_VERSION] == "best-of/1"
    assert aliases(client, "best-of") == {"champion": "1", "challenger": "1"}
    out = capsys.readouterr().out
    assert "registered the best job #2 (#2 logreg+none) as best-of version 1" in out
    assert "registry: best-of v1 is the first champion" in out

    # a reused run that is registered already is not registered again
    Policy(True, "best-of", True, "f1", False).adopt(client, uri, client.get_run(trained.info.run_id))
    assert len(client.search_model_versions("name='best-of'")) == 1
