"""What makes two jobs the same job: resolved config, code version and data digest.

The code version hashes the project's own source (`runner/` and `conf/`), so it works without
git and sees uncommitted and untracked edits alike; the git commit is recorded beside it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, Mapping

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
CONF_DIR = PROJECT_DIR / "conf"

# Keys that change where or how a job is recorded, never what it computes.
COSMETIC = ("mlflow", "registry", "rerun", "optimized_metric", "hydra")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of every source and config file of the project (sorted paths and contents)."""
    h = hashlib.blake2b(digest_size=12)
    for root, pattern in ((PACKAGE_DIR, "*.py"), (CONF_DIR, "*.yaml")):
        for path in sorted(root.rglob(pattern)):
            if "__pycache__" in path.parts:
                continue
            h.update(str(path.relative_to(PROJECT_DIR)).encode())
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
