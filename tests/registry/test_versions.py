"""Model Registry versions (runner.registry.versions): registered with where they came from, alias challenger."""
from __future__ import annotations

import pytest

from helpers import SYNTH, train

BASE = ["registry.register=true", "dataset.n_samples=400"]



def test_a_registration_that_fails_after_creating_its_version_leaves_no_version(store_uri, client) -> None:
    """No registry version from a failed job: here the run to tag does not exist."""
    from mlflow.exceptions import MlflowException

    from runner.registry import versions as registry

    train(store_uri, *BASE)
    (run,) = client.search_runs([client.get_experiment_by_name("synthetic-imbalanced").experiment_id])
    with pytest.raises(MlflowException):
        registry.register(client, run.data.tags["runner.model_uri"], SYNTH, "f" * 32, {})
    assert [str(v.version) for v in client.search_model_versions(f"name = '{SYNTH}'")] == ["1"]



def test_a_versions_tags_say_where_it_came_from() -> None:
    from runner.registry import versions
    from runner.track import names

    run_tags = {names.IDENTITY: "i", names.MODEL: "rf", names.SAMPLER: "none", names.DATASET: "iris",
                names.DATA_DIGEST: "d", names.GIT_COMMIT: "c", names.GIT_DIRTY: "false", names.CODE_VERSION: "v",
                names.OVERRIDES: "model=rf", names.JOB_NUM: "3", "mlflow.user": "me"}
    assert versions.version_tags("r1", run_tags, {"f1": 0.5, "fit_seconds": 2}) == {
        "run_id": "r1", "identity": "i", "model": "rf", "sampler": "none", "dataset": "iris", "data_digest": "d",
        "git_commit": "c", "git_dirty": "false", "code_version": "v", "overrides": "model=rf",
        "metric.f1": "0.5", "metric.fit_seconds": "2.0"}


def test_registered_reads_the_name_and_version_off_the_run(client, store_uri: str) -> None:
    from runner.registry import versions
    from runner.track import names, store

    experiment = store.prepare(store_uri, "v")

    def run_with(tags: dict):
        return client.get_run(client.create_run(experiment, tags=tags).info.run_id)

    assert versions.registered(run_with({names.REGISTERED_VERSION: "team/model-a/12"})) == ("team/model-a", "12")
    assert versions.registered(run_with({})) is None
    assert versions.registered(run_with({names.REGISTERED_VERSION: "no-version"})) is None


def test_a_registered_job_is_a_challenger_pointing_at_its_logged_model(model_store) -> None:
    client = model_store.client
    proper = model_store.proper
    mv = client.get_model_version(SYNTH, "2")
    assert mv.run_id == proper.info.run_id and proper.data.tags["runner.registered_version"] == f"{SYNTH}/2"
    assert mv.source == proper.data.tags["runner.model_uri"]
    assert mv.tags["metric.f1"] == repr(proper.data.metrics["f1"]) and mv.tags["identity"] == proper.data.tags["runner.identity"]
    assert str(client.get_registered_model(SYNTH).aliases["challenger"]) == "2"
