"""What a job's code version covers: the modules that run inside a job, and nothing else.

Editing a reporting module keeps every identity (a sweep resumes); editing the pipeline changes
them (a sweep retrains). Checked on copies of the package, and end to end on a copy of the project.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from runner.track import identity

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = [
    "config/__init__.py", "config/allowlist.py", "config/hydra_errors.py", "config/resources.py", "config/schema.py",
    "config/validate.py", "errors.py", "job/context.py", "job/run.py",
    "track/__init__.py", "track/identity.py", "track/inputs.py", "track/liveness.py", "track/logged.py",
    "track/locks.py", "track/models.py", "track/names.py",
    "track/params.py", "track/predictions.py", "track/runs.py", "track/secrets.py", "track/store.py",
    "train/__init__.py", "train/checks.py", "train/crossval.py", "train/data.py", "train/decision.py",
    "train/evaluate.py", "train/explain.py", "train/features.py", "train/labels.py", "train/pipeline.py", "train/plots.py",
    "train/profile.py",
    "train/samplers.py", "train/tables.py", "train/uncertainty.py", "train/weights.py",
]


def relative(files: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in files]


def test_the_hashed_files_are_what_runs_inside_a_job() -> None:
    hashed = relative(identity.hashed_files(), identity.PACKAGE_DIR)
    assert hashed == sorted(EXPECTED)
    # never a module that only reports, serves or parses a command line
    assert not [f for f in hashed if f.startswith(("sweep/", "serve/", "cli/", "registry/"))]
    assert "job/rerun.py" not in hashed


def package_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "runner"
    shutil.copytree(identity.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.mark.parametrize("module, changes", [
    ("sweep/render.py", False), ("sweep/leaderboard.py", False), ("serve/monitor.py", False),
    ("serve/predict.py", False), ("cli/review.py", False), ("registry/gate.py", False),
    ("train/pipeline.py", True), ("train/evaluate.py", True), ("track/models.py", True), ("job/run.py", True),
    ("config/validate.py", True),
])
def test_editing_a_module_changes_the_code_version_only_if_it_runs_in_a_job(tmp_path: Path, module: str,
                                                                              changes: bool) -> None:
    copy = package_copy(tmp_path)
    before = identity.code_version(copy)
    assert before == identity.code_version(identity.PACKAGE_DIR)  # paths inside the package, not where it lies
    with open(copy / module, "a") as fh:
        fh.write("\n# an edit\n")
    identity.code_version.cache_clear()
    assert (identity.code_version(copy) != before) is changes


def sweep(project: Path, uri: str) -> mlflow.entities.Run:
    """The card's sweep, small, in the copied project; returns the new sweep's parent run."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(project)}
    proc = subprocess.run([sys.executable, str(project / "run.py"), "-m", "model=logreg", "sampler=none,smotetomek",
                           "dataset.n_samples=300"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    (parent,) = client.search_runs([exp.experiment_id], "tags.`runner.sweep` = 'true'",
                                   order_by=["attributes.start_time DESC"], max_results=1)
    return parent


@pytest.mark.slow
def test_a_sweep_resumes_after_a_report_edit_and_retrains_after_a_pipeline_edit(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "run.py", project / "run.py")
    shutil.copytree(ROOT / "conf", project / "conf")
    shutil.copytree(identity.PACKAGE_DIR, project / "runner", ignore=shutil.ignore_patterns("__pycache__"))
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"

    first = sweep(project, uri)
    assert not any(k.startswith("runner.reused.") for k in first.data.tags)

    with open(project / "runner" / "sweep" / "render.py", "a") as fh:
        fh.write("\n# the leaderboard's look changed\n")
    resumed = sweep(project, uri)
    reused = {k: v for k, v in resumed.data.tags.items() if k.startswith("runner.reused.")}
    assert sorted(reused) == ["runner.reused.0", "runner.reused.1"]
    assert set(reused.values()) == {first.data.tags["runner.job.0"], first.data.tags["runner.job.1"]}

    with open(project / "runner" / "train" / "pipeline.py", "a") as fh:
        fh.write("\n# the pipeline changed\n")
    retrained = sweep(project, uri)
    assert not any(k.startswith("runner.reused.") for k in retrained.data.tags)
    new_runs = {retrained.data.tags["runner.job.0"], retrained.data.tags["runner.job.1"]}
    assert not new_runs & set(reused.values())
