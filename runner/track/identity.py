"""What makes two jobs the same job: resolved config, code version and data digest.

The code version hashes the source of every module that runs inside a job, i.e. what a reused
run's numbers and artifacts come from: the config checks, the training stage (data, features,
sampler, pipeline, evaluation, plots, reference profile), the tracking stage (params, inputs, the
logged model and its signature) and the job's flow. Modules that never run inside a job (the
registry, sweep reports and leaderboards, prediction, monitoring, the command lines) are left out,
so editing them never retrains a sweep. `conf/` counts through the resolved config, which the
identity hashes itself. Hashing the files works without git and sees uncommitted edits alike; the
git commit is recorded beside it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROJECT_DIR = PACKAGE_DIR.parent

# Relative to the package: what runs inside a job.
JOB_CODE = ("errors.py", "config/*.py", "train/*.py", "track/*.py", "job/context.py", "job/run.py")

# Keys that change where or how a job is recorded, never what it computes (`explain` adds an artifact;
# a reused run gets it then, runner.job.run.reuse).
COSMETIC = ("mlflow", "registry", "rerun", "optimized_metric", "hydra", "runner", "explain")


def hashed_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The source files `code_version` hashes, in hashing order."""
    files = {path for pattern in JOB_CODE for path in package_dir.glob(pattern) if path.is_file()}
    return sorted(files, key=lambda p: p.relative_to(package_dir).as_posix())


@functools.lru_cache(maxsize=4)
def code_version(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of the job's source files (their paths within the package and their contents)."""
    h = hashlib.blake2b(digest_size=12)
    for path in hashed_files(package_dir):
        h.update(path.relative_to(package_dir).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, str]:
    """The commit and whether the tree is dirty, or nothing outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=normal", "--", "runner", "conf", "run.py"))
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "dirty": str(dirty).lower()}


def config_identity(resolved: Mapping[str, Any], data_digest: str) -> str:
    """Hash of the resolved config (less cosmetic keys), the code version and the full data digest."""
    content = _without_threads({k: v for k, v in resolved.items() if k not in COSMETIC})
    payload = json.dumps(
        {"config": content, "code": code_version(), "data": data_digest}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _without_threads(node: Any) -> Any:
    """Drop `n_jobs` everywhere: how many threads a fit used does not change what it computes."""
    if isinstance(node, Mapping):
        return {k: _without_threads(v) for k, v in node.items() if k != "n_jobs"}
    if isinstance(node, list):
        return [_without_threads(v) for v in node]
    return node
