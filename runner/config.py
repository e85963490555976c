"""The typed top of the config tree and the resolvers the YAML uses.

`register()` must run before Hydra composes (run.py and the compose-API tests call it);
nothing happens at import time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING, OmegaConf


@dataclass
class RegistryConfig:
    register: Any = False  # true | false | "best"
    name: str = MISSING
    promote: bool = True


@dataclass
class MlflowConfig:
    tracking_uri: Optional[str] = None
    experiment_name: str = MISSING
    parent_run_id: Optional[str] = None


@dataclass
class Config:
    dataset: Any = MISSING
    model: Any = MISSING
    sampler: Any = MISSING
    seed: int = 42
    optimized_metric: str = "f1"
    rerun: bool = False
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def concurrent_jobs() -> int:
    """How many jobs of this sweep run at the same time on this machine (1 outside a parallel launcher)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return 1
    return launcher_jobs(HydraConfig.get().launcher)


def launcher_jobs(launcher: Any) -> int:
    """How many jobs a `hydra.launcher` config runs at the same time on this machine."""
    target = str(launcher.get("_target_", ""))
    if "joblib" in target:
        n = int(launcher.get("n_jobs") or 1)
        return cpu_count() if n < 0 else max(1, n)
    if "ray" in target:
        # Ray gives each task `num_cpus` (1 unless set): that many threads, no more.
        remote = launcher.get("ray", {}).get("remote", {}) or {}
        return max(1, cpu_count() // max(1, int(remote.get("num_cpus", 1))))
    return 1


def threads_per_job() -> int:
    """This job's share of the cores: all of them alone, a fair share beside parallel jobs."""
    return max(1, cpu_count() // concurrent_jobs())


def file_stem(path: Any) -> str:
    """`examples/churn.csv` -> `churn`: a user file's dataset name (experiment and registry name)."""
    from pathlib import PurePath

    return PurePath(str(path)).stem or "csv"


def register() -> None:
    """Store the schema in Hydra's ConfigStore and register the `runner.*` resolvers (idempotent)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="base_config", node=Config)
    if not OmegaConf.has_resolver("runner.threads"):
        OmegaConf.register_new_resolver("runner.threads", threads_per_job)
    if not OmegaConf.has_resolver("runner.stem"):
        OmegaConf.register_new_resolver("runner.stem", file_stem)
