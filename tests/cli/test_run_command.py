"""Bad input, what may be instantiated, secrets and faults: each row of issue 7 against the real CLI.

Single-run mistakes run as real `python run.py ...` subprocesses that fail before any ML work,
and each asserts the one-line message and that the store was never even created.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runner import allowlist, store, tracking
from runner.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = "only estimators and samplers from sklearn.*, xgboost.*, imblearn.*, runner.* may be built"


def db_path(store_uri: str) -> Path:
    return Path(store_uri.replace("sqlite:///", "", 1))


def assert_one_line_error(proc: subprocess.CompletedProcess, *expected: str) -> str:
    """Non-zero exit, no traceback, and one `error:` line holding every expected piece."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "HYDRA_FULL_ERROR" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for piece in expected:
        assert piece in errors[0], (piece, errors[0])
    return errors[0]


BAD_INPUT = {
    "unknown model": (["model=nonexistent"], ["model=nonexistent", "available: logreg, rf, xgb"]),
    "unknown key": (["model.n_estimatorz=5"], ["model.n_estimatorz=5", "unknown key", "C, solver, max_iter",
                                               "+model.n_estimatorz=5"]),
    "wrong type": (["seed=abc"], ["seed=abc", "must be an integer"]),
    "C below range": (["model.C=-1"], ["model.C=-1", "range (0.0, inf]"]),
    "rf no trees": (["model=rf", "model.n_estimators=0"], ["model.n_estimators=0", "range [1, inf)"]),
    "xgb no trees": (["model=xgb", "model.n_estimators=0"], ["model.n_estimators=0", "integer >= 1"]),
    "test_size": (["dataset.test_size=1.5"], ["dataset.test_size=1.5", "(0, 1)"]),
    "too few rows": (["dataset.n_samples=3"], ["dataset.n_samples=3", "too small to split and stratify",
                                                "at least 20"]),
    "weights": (["dataset.weights=[0.9,0.9]"], ["dataset.weights=[0.9, 0.9]", "sum to 1", "1.8"]),
    "smote neighbours": (["sampler=smotetomek", "dataset.n_samples=60", "dataset.weights=[0.95,0.05]"],
                         ["SMOTETomek", "smallest class has 2 training rows", "k_neighbors=5", "sampler=none"]),
    "single class": (["dataset.weights=[1.0,0.0]"], ["dataset.weights=[1.0, 0.0]", "single-class",
                                                      "proportion > 0"]),
    "builtins.dict": (["model._target_=builtins.dict"], ["model._target_=builtins.dict", ALLOWED]),
    "shutil.copy": (["model._target_=shutil.copy"], ["model._target_=shutil.copy", ALLOWED]),
    "nested target": (["+model.estimator._target_=shutil.copy"], ["model.estimator._target_=shutil.copy", ALLOWED]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_one_line_and_writes_nothing(case: str, run_cli, store_uri: str) -> None:
    args, expected = BAD_INPUT[case]
    proc = run_cli(*args, check=False)
    assert_one_line_error(proc, *expected)
    assert not db_path(store_uri).exists(), "a failed single run must not even create the store"


def test_hydra_full_error_still_shows_the_traceback(run_cli) -> None:
    proc = run_cli("seed=abc", check=False, env={"HYDRA_FULL_ERROR": "1"})
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "could not be converted to Integer" in proc.stderr


def test_invalid_jobs_of_a_sweep_are_failed_runs_and_the_rest_go_on(run_cli, client) -> None:
    proc = run_cli("-m", "model._target_=shutil.copy,sklearn.linear_model.LogisticRegression",
                   "dataset.test_size=1.5,0.3", "dataset.n_samples=300", "registry.register=true", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "3 of 4 jobs failed" in proc.stderr
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("runner.sweep") == "true"]
    jobs = {r.data.tags["runner.job_num"]: r for r in runs if r is not parent}
    assert parent.info.status == "FAILED"
    assert sorted(jobs) == ["0", "1", "2", "3"]
    reasons = {n: r.data.tags.get("runner.failure", "") for n, r in jobs.items()}
    statuses = {n: r.info.status for n, r in jobs.items()}
    # Hydra's order: the last override varies fastest
    assert statuses == {"0": "FAILED", "1": "FAILED", "2": "FAILED", "3": "FINISHED"}
    assert ALLOWED in reasons["0"] and ALLOWED in reasons["1"]
    assert "dataset.test_size=1.5" in reasons["2"]
    assert all(parent.data.tags[f"runner.job.{n}"] == r.info.run_id for n, r in jobs.items())
    versions = client.search_model_versions("name='synthetic-imbalanced-classifier'")
    assert [v.run_id for v in versions] == [jobs["3"].info.run_id]


def test_allowlist_checks_the_prefix_before_importing_anything(run_cli, tmp_path: Path, store_uri: str) -> None:
    """Importing a module runs its code: a refused name must never be imported, even to inspect it."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "evilmod.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Model:\n    pass\n")
    proc = run_cli("model._target_=evilmod.Model", check=False, env={"PYTHONPATH": str(tmp_path / "plugins")})
    assert_one_line_error(proc, "model._target_=evilmod.Model", ALLOWED)
    assert not marker.exists()
    assert not db_path(store_uri).exists()


def test_allowlist_covers_configs_read_back_from_a_store(tmp_path: Path) -> None:
    """A resolved_config.yaml as a re-run would read it back: refused at any depth, as YAML or as a dict."""
    from omegaconf import OmegaConf

    text = """
seed: 1
model:
  _target_: sklearn.ensemble.BaggingClassifier
  estimator:
    _target_: sklearn.tree.DecisionTreeClassifier
    max_depth: 2
sampler:
  _target_: imblearn.combine.SMOTETomek
  smote:
    _target_: imblearn.over_sampling.SMOTE
"""
    good = OmegaConf.create(text)
    allowlist.check_config(good)
    allowlist.check_config(OmegaConf.to_container(good))
    bad = OmegaConf.create(text.replace("sklearn.tree.DecisionTreeClassifier", "shutil.copy"))
    for form in (bad, OmegaConf.to_container(bad)):
        with pytest.raises(UserError, match="model.estimator._target_=shutil.copy: not allowed"):
            allowlist.check_config(form)
    for target in ("builtins.dict", "os.system", "sklearn.utils.check_array", "sklearn.nope.Model"):
        with pytest.raises(UserError):
            allowlist.check_config({"model": {"_target_": target}})
    # interpolated targets are checked as Hydra would build them
    sneaky = OmegaConf.create({"evil": "shutil.copy", "model": {"_target_": "${evil}"}})
    with pytest.raises(UserError, match="model._target_=shutil.copy"):
        allowlist.check_config(sneaky)


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


def test_unreachable_tracking_server_fails_fast_naming_it(run_cli) -> None:
    uri = "http://127.0.0.1:9"
    for args in (["dataset.n_samples=300"], ["-m", "model=logreg,rf", "dataset.n_samples=300"]):
        t = time.perf_counter()
        proc = run_cli(*args, check=False, env={"MLFLOW_TRACKING_URI": uri}, timeout=90)
        print(f"{args}: failed after {time.perf_counter() - t:.1f}s")  # MLflow's own retries: minutes
        assert_one_line_error(proc, f"tracking server {uri} is unreachable", "MLFLOW_TRACKING_URI")
        # a sweep stops before launching anything (Hydra would turn the error into a warning and go on)
        assert "Warning" not in proc.stderr and "Launching jobs" not in proc.stdout + proc.stderr, proc.stderr


def test_a_slow_server_is_left_to_mlflows_retries() -> None:
    """Accepting the connection but not answering /health in time is not 'unreachable'."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    try:
        store.check_reachable(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.5)
    finally:
        server.close()


def wait_for_running(client, experiment: str, proc: subprocess.Popen, timeout: float = 120) -> str:
    """The id of the first RUNNING job run (the job is then inside its fit)."""
    deadline = time.time() + timeout
    exp = client.get_experiment_by_name(experiment)
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        runs = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'")
        jobs = [r for r in runs if r.data.tags.get("runner.sweep") != "true"]
        if jobs:
            return jobs[0].info.run_id
        time.sleep(0.2)
    raise AssertionError("no job run started")


@pytest.mark.parametrize("sig, multirun", [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["sigterm-single", "sigint-sweep"])
def test_a_job_killed_mid_fit_is_killed_and_the_next_run_works(sig, multirun, run_cli, client, store_uri,
                                                               tmp_path: Path) -> None:
    store.prepare(store_uri, "synthetic-imbalanced")  # so this test can poll it while the job runs
    slow = ["model=rf", "model.n_estimators=20000", "model.n_jobs=1", "model.max_depth=null",
            "dataset.n_samples=1000", "registry.register=true"]
    cmd = [sys.executable, str(ROOT / "run.py"), *(["-m"] if multirun else []), *slow]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "MLFLOW_TRACKING_URI": store_uri},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = wait_for_running(client, "synthetic-imbalanced", proc)
        time.sleep(1.0)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err, err
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["runner.failure"] == "interrupted"
    assert "fit_seconds" not in run.data.metrics
    assert client.search_model_versions("name='synthetic-imbalanced-classifier'") == []
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    assert client.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'") == []
    if multirun:
        parents = [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("runner.sweep") == "true"]
        assert [p.info.status for p in parents] == ["KILLED"]
    if not multirun:  # the store is consistent and the next run works
        run_cli("dataset.n_samples=300")
        finished = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'FINISHED'")
        assert len(finished) == 1


def test_two_sweeps_at_once_on_a_fresh_embedded_store(tmp_path: Path) -> None:
    """Both create the schema of the same new outputs/mlflow.db at the same moment: no run or version lost."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    procs = []
    for n, seeds in enumerate(("1,2", "3,4")):
        cmd = [sys.executable, str(ROOT / "run.py"), "-m", "model=logreg", "dataset.n_samples=300",
               f"seed={seeds}", "registry.register=true", f"hydra.sweep.dir=outputs/sweeps/s{n}"]
        procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    import mlflow

    uri = store.default_uri(tmp_path)
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("runner.sweep") == "true"]
    jobs = [r for r in runs if r.data.tags.get("runner.sweep") != "true"]
    assert len(parents) == 2 and len(jobs) == 4
    assert all(r.info.status == "FINISHED" for r in runs)
    assert sorted(r.data.params["seed"] for r in jobs) == ["1", "2", "3", "4"]
    versions = client.search_model_versions("name='synthetic-imbalanced-classifier'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    assert sorted(v.run_id for v in versions) == sorted(r.info.run_id for r in jobs)
