"""Where a job's overhead goes: each phase of warm jobs, timed in one process.

Runs the card's six jobs (logreg, rf, xgb x none, smotetomek; registered) --repeat times in this
process through Hydra's compose API on a fresh temp SQLite store, times each phase of
`runner.job` with perf_counter wrappers, and prints the median of the warm jobs (the first job
pays the imports) next to the per-job overhead the `compare` part of run_all.py reports
(run duration - fit_seconds).

    python benchmarks/phases.py [--repeat 2]
"""
from __future__ import annotations

import argparse
import collections
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHASES = [  # (module, attribute path): in the order a job runs them
    ("runner.job.run", "plan"), ("mlflow", "start_run"), ("runner.train.evaluate", "evaluate"),
    ("runner.train.plots", "write"), ("runner.train.profile", "write"), ("mlflow", "MlflowClient.log_artifacts"),
    ("runner.track.runs", "log_job"), ("mlflow", "log_inputs"), ("runner.track.models", "log_model"),
    ("runner.registry.versions", "register"), ("mlflow", "end_run"),
    ("runner.registry.policy", "Policy.after_job"),  # the gate's decision, after the run ends (not in its overhead)
    ("runner.job.run", "run"),
]


def timed(times: dict[str, list[float]], label: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """`f`, adding each call's seconds to `times[label]`."""
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            times[label].append(time.perf_counter() - t)
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2, help="times to run the six jobs (default 2)")
    args = ap.parse_args()

    import importlib

    import mlflow
    from hydra import compose, initialize_config_dir

    from runner.config import schema
    from runner.job import run as job

    schema.register()
    times: dict[str, list[float]] = collections.defaultdict(list)
    for module, path in PHASES:
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        label = f"{module.removeprefix('runner.')}.{path}"
        setattr(owner, name, timed(times, label, getattr(owner, name)))

    uri = f"sqlite:///{tempfile.mkdtemp(prefix='runner-phases-')}/mlflow.db"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfgs = [compose("config", overrides=[f"model={m}", f"sampler={s}", "registry.register=true",
                                             f"mlflow.tracking_uri={uri}", "rerun=true"])
                for m in ("logreg", "rf", "xgb") for s in ("none", "smotetomek")]
    for _ in range(args.repeat):
        for cfg in cfgs:
            job.run(cfg)

    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=1000,
                              order_by=["attributes.start_time ASC"])
    overheads = [(r.info.end_time - r.info.start_time) / 1000 - r.data.metrics["fit_seconds"] for r in runs]
    print(f"{len(runs)} jobs; per-job overhead, warm median: {statistics.median(overheads[1:]):.3f} s "
          f"(first job {overheads[0]:.2f} s)")
    print(f"{'phase':28s} {'warm median s':>13s} {'first s':>8s}")
    for label, values in times.items():
        warm = statistics.median(values[1:]) if len(values) > 1 else float("nan")
        print(f"{label:28s} {warm:13.3f} {values[0]:8.3f}")


if __name__ == "__main__":
    main()
