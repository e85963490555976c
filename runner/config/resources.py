"""How many cores a job may use: all of them alone, a fair share beside a parallel launcher's other jobs."""
from __future__ import annotations

import os
from typing import Any


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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


def concurrent_jobs() -> int:
    """How many jobs of this sweep run at the same time on this machine (1 outside a parallel launcher)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return 1
    return launcher_jobs(HydraConfig.get().launcher)


def threads_per_job() -> int:
    """This job's share of the cores (the `${runner.threads:}` resolver)."""
    return max(1, cpu_count() // concurrent_jobs())
