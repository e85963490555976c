"""runner.job.rerun (`python -m runner.rerun`): a recorded run trained again from its logged config, as a new run."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from helpers import compose
from runner import errors, rerun
from runner.job.rerun import load_config


def only_run(client, experiment: str = "synthetic-imbalanced"):
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


@pytest.mark.slow
def test_rerun_reproduces_the_original_and_says_what_changed(run_cli, client, capsys) -> None:
    run_cli("model=rf", "sampler=smotetomek", "dataset.n_samples=400", "seed=2", "model.n_estimators=20")
    (original,) = only_run(client)
    oid = original.info.run_id
    # a different code version on record (as after an edit) is said before training
    client.set_tag(oid, "runner.code_version", "0" * 24)

    proc = run_cli(oid, module="runner.rerun")
    runs = only_run(client)
    assert len(runs) == 2  # a new run although an identical FINISHED one exists (no resume)
    new = next(r for r in runs if r.info.run_id != oid)
    assert new.info.status == "FINISHED"
    assert new.data.tags["runner.rerun_of"] == oid
    assert "code version differs: original 000000000000000000000000" in proc.stderr
    assert "dataset digest differs" not in proc.stderr
    assert proc.stderr.index("code version differs") < proc.stderr.index("rf+smotetomek: f1=")  # before training
    for key in ("runner.model", "runner.sampler", "runner.dataset", "runner.data_digest", "runner.overrides"):
        assert new.data.tags[key] == original.data.tags[key], key
    assert new.info.run_name == original.info.run_name == "rf+smotetomek"
    assert new.data.params == {**original.data.params, "rerun": "True"}
    metrics = {k for k in original.data.metrics if not k.endswith("_seconds")}
    assert metrics >= {"f1", "roc_auc", "accuracy", "average_precision"}
    for name in metrics:
        assert math.isclose(new.data.metrics[name], original.data.metrics[name], rel_tol=0, abs_tol=1e-9), name
    files = {a.path for a in client.list_artifacts(new.info.run_id)}
    assert {"resolved_config.yaml", "reference_profile.json"} <= files
    assert "largest metric difference" in proc.stdout

    # in process this time: changed data is said before training, and the run still lands
    assert rerun.main([oid, "--set", "dataset.n_samples=320"]) == 0
    assert "dataset digest differs" in capsys.readouterr().err
    third = only_run(client)[-1]
    assert third.data.params["dataset.n_samples"] == "320" and third.data.tags["runner.rerun_of"] == oid


def recorded(client, tmp_path: Path) -> tuple[str, str]:
    """A run holding a resolved_config.yaml as a job logs it (composed by Hydra, no training needed)."""
    from omegaconf import OmegaConf

    from runner.track import secrets as tracking
    from runner.track import store

    cfg = compose(["model=logreg", "dataset.n_samples=300"])
    text = OmegaConf.to_yaml(OmegaConf.create(tracking.redacted_config(OmegaConf.to_container(cfg, resolve=True))))
    experiment_id = store.prepare(client.tracking_uri, "synthetic-imbalanced")
    run = client.create_run(experiment_id, run_name="logreg+none")
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id, text


def test_rerun_refuses_a_tampered_target_before_building_anything(client, tmp_path: Path, capsys) -> None:
    oid, text = recorded(client, tmp_path)
    assert "_target_: sklearn.linear_model.LogisticRegression" in text
    tampered = tmp_path / "tampered" / "resolved_config.yaml"
    tampered.parent.mkdir()
    tampered.write_text(text.replace("sklearn.linear_model.LogisticRegression", "shutil.rmtree"))
    client.log_artifact(oid, str(tampered))  # the record as an attacker left it

    with pytest.raises(errors.UserError, match=r"model._target_=shutil.rmtree: not allowed"):
        load_config(client, oid)
    assert rerun.main([oid]) == 2
    assert "not allowed" in capsys.readouterr().err
    assert len(only_run(client)) == 1  # no run was created


def test_rerun_refuses_a_redacted_value_until_supplied(client, tmp_path: Path) -> None:
    oid, text = recorded(client, tmp_path)
    hidden = tmp_path / "hidden" / "resolved_config.yaml"
    hidden.parent.mkdir()
    hidden.write_text(text.replace("C: 1.0", "C: '***'"))
    client.log_artifact(oid, str(hidden))
    with pytest.raises(errors.UserError, match=r"model.C was redacted"):
        load_config(client, oid)
    _, cfg = load_config(client, oid, ["model.C=1.0"])
    assert cfg.model.C == 1.0 and cfg.rerun is True and cfg.mlflow.tracking_uri is None


def test_a_session_run_trained_again_in_this_process_matches_and_registers_on_request(store_copy, capsys) -> None:
    """`python -m runner.rerun <id> --register` in this process, on a copy of the session store (iris, multiclass)."""
    from runner.cli import rerun as rerun_cli
    from runner.job import rerun as job_rerun

    client = store_copy.client
    original = client.get_run(client.get_model_version("iris-classifier", "1").run_id)
    assert rerun_cli.main([original.info.run_id, "--register"]) == 0
    out = capsys.readouterr()
    assert "code version differs" not in out.err and "dataset digest differs" not in out.err
    (new,) = [r for r in only_run(client, "iris") if r.info.run_id != original.info.run_id]
    assert new.data.tags["runner.rerun_of"] == original.info.run_id and new.info.run_name == original.info.run_name
    compared = job_rerun.compare(client, original.info.run_id, new.info.run_id)
    assert {name for name, _, _ in compared} >= {"f1", "roc_auc", "accuracy"}
    assert all(math.isclose(was, now, abs_tol=1e-9) for _, was, now in compared)
    assert f"new run {new.info.run_id} (runner.rerun_of={original.info.run_id}); largest metric difference" in out.out
    assert new.data.tags["runner.registered_version"] == "iris-classifier/2"  # --register: a new version, gated


def test_a_run_that_is_not_a_job_run_cannot_be_rerun(client, capsys) -> None:
    from runner.track import store

    run = client.create_run(store.prepare(client.tracking_uri, "other"))
    with pytest.raises(errors.UserError, match=rf"run {run.info.run_id}: has no resolved_config.yaml artifact"):
        load_config(client, run.info.run_id)
    with pytest.raises(errors.UserError, match=rf"^run {'0' * 32}: not found in sqlite:///"):
        load_config(client, "0" * 32)
    assert rerun.main(["0" * 32]) == 2 and capsys.readouterr().err.startswith(f"error: run {'0' * 32}: not found")
