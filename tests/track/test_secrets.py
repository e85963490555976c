"""Secrets never reach the store (runner.track.secrets): values under secret-looking keys, credentials in URIs."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import db_path
from runner.track import secrets as tracking


@pytest.mark.slow
def test_secrets_never_reach_the_store(run_cli, client, store_uri: str) -> None:
    """A one-job sweep (job run + parent run + registered version) with secrets in free-form `extra.*`."""
    secrets = ("hunter2", "s3cr3tpw", "AKIAEXAMPLE")
    run_cli("-m", "dataset.n_samples=300", "registry.register=true", "+extra.owner=alice",
            "+extra.api_token=hunter2", "+extra.db=postgresql://alice:s3cr3tpw@db.example/x",
            "+extra.aws.secret_access_key=AKIAEXAMPLE")
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 2
    job = next(r for r in runs if r.data.tags.get("runner.sweep") != "true")
    p = job.data.params
    assert p["extra.owner"] == "alice" and p["extra.api_token"] == "***"
    assert p["extra.aws.secret_access_key"] == "***" and p["extra.db"] == "postgresql://***@db.example/x"
    assert "+extra.api_token=***" in job.data.tags["runner.overrides"]
    resolved = Path(client.download_artifacts(job.info.run_id, "resolved_config.yaml")).read_text()
    assert "api_token: '***'" in resolved and "owner: alice" in resolved
    # everything the store holds: params, tags, metrics, registry (the database) and every artifact
    folder = db_path(store_uri).parent
    files = [f for f in folder.rglob("*") if f.is_file()]
    assert any(f.name == "resolved_config.yaml" for f in files) and len(files) > 10
    for f in files:
        data = f.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (secret, f)


def test_redaction_rules() -> None:
    assert tracking.redact("extra.password", "x") == "***"
    assert tracking.redact("dataset.path", "/data/a@b.csv") == "/data/a@b.csv"
    assert tracking.redact("mlflow.tracking_uri", "https://u:p@host:5000") == "https://***@host:5000"
    assert tracking.redact_text("+extra.token='a b' model.C=1") == "+extra.token=*** model.C=1"
    assert tracking.redact_text("dataset.path=https://u:p@x.org/a.csv: no such file") == \
        "dataset.path=https://***@x.org/a.csv: no such file"
    assert tracking.redact_text(r"+extra.db=postgresql\://alice\:pw@db/x") == r"+extra.db=postgresql\://***@db/x"



@pytest.mark.parametrize("key, value, shown", [
    ("extra.api_token", "abc", "***"), ("db.PASSWORD", 123, "***"), ("aws.secret_access_key", ["a"], "***"),
    ("extra.token", None, None),  # nothing to hide
    ("extra.keyboard", "qwerty", "***"),  # any key containing a secret word: better hidden than leaked
    ("extra.owner", "alice", "alice"), ("dataset.path", "data/x.csv", "data/x.csv"),
    ("mlflow.tracking_uri", "http://host:5000", "http://host:5000"),
    ("mlflow.tracking_uri", "postgresql://alice@db/x", "postgresql://***@db/x"),
])
def test_redact_hides_secret_keys_and_uri_credentials(key: str, value, shown) -> None:
    assert tracking.redact(key, value) == shown


def test_redacted_config_keeps_the_structure() -> None:
    resolved = {"model": {"C": 1.0}, "extra": {"api_token": "t", "hosts": ["https://u:p@a/x", "https://b/y"],
                                               "nested": [{"password": "p", "user": "u"}]}}
    assert tracking.redacted_config(resolved) == {
        "model": {"C": 1.0},
        "extra": {"api_token": "***", "hosts": ["https://***@a/x", "https://b/y"],
                  "nested": [{"password": "***", "user": "u"}]},
    }
    assert resolved["extra"]["api_token"] == "t"  # a copy: the job still uses the real value


def test_redact_text_hides_every_assignment_and_uri_in_a_line() -> None:
    line = '+extra.api_token="a b" extra.db_password=x model.C=1 see https://bob:pw@h/p and s3://k@bucket/f'
    assert tracking.redact_text(line) == "+extra.api_token=*** extra.db_password=*** model.C=1 see https://***@h/p and s3://***@bucket/f"


def test_an_ipv6_host_keeps_its_brackets() -> None:
    assert tracking.redact("mlflow.tracking_uri", "https://u:p@[::1]:8443/x?y=1") == "https://***@[::1]:8443/x?y=1"
