"""Joblib sweep vs the basic launcher, side by side in one run.

    python benchmarks/parallel.py                  # every scenario, once each way
    python benchmarks/parallel.py --scenario "multi-threaded (rf, xgb)" --repeats 2   # one of them
    python benchmarks/parallel.py --repeats 2      # basic/joblib, then joblib/basic (drift cancels)

Three scenarios, each swept once with Hydra's basic launcher (one job after another, estimators
get all cores) and once with `launcher=local-parallel` (two loky workers, estimators get
cores / 2 threads via ${runner.threads:}):

- single-threaded: RandomForests (100 trees) pinned to one thread (fit-dominated) on 100k rows, 4 jobs;
- multi-threaded: RandomForest and XGBoost (threaded) on 100k rows, 4 jobs;
- overhead-dominated: logistic regressions on 100k rows, 4 values of C (each fit < 1 s).

Every run starts from a fresh embedded store in a temp folder, as a user's first sweep would.
Reported: the whole command's wall time and the jobs' span (first job start to last job end,
read from MLflow), and the speed-up basic / joblib of each. Prints a table, writes a CSV.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = 100_000

SCENARIOS: dict[str, list[str]] = {
    # fit-dominated and single-threaded: RandomForest pinned to one thread (model.n_jobs=1)
    "single-threaded (rf n_jobs=1)": [
        "model=rf", "model.n_jobs=1", "model.max_depth=8,10,12,14", "model.n_estimators=100",
    ],
    # rf and xgb use n_jobs = ${runner.threads:}: all cores alone, half of them beside a second job
    "multi-threaded (rf, xgb)": [
        "model=rf,xgb", "model.max_depth=8,12", "++model.n_estimators=150",  # ++: logreg (primary) has none
    ],
    # logistic regressions fit in ~0.2-1 s at 100k rows (lbfgs converges in ~10 iterations, saga's
    # weights stop changing after ~40 epochs): the per-job work around the fit dominates
    "overhead-dominated (logreg)": [
        "model=logreg", "model.C=0.01,0.1,1,10",
    ],
}
LAUNCHERS = {"basic": [], "joblib": ["launcher=local-parallel"]}


@dataclass
class Result:
    scenario: str
    launcher: str
    repeat: int
    wall_seconds: float
    jobs_seconds: float
    fit_seconds: float  # sum of the jobs' fit times
    jobs: int


def run_sweep(scenario: str, launcher: str, repeat: int, rows: int) -> Result:
    """One sweep from a fresh temp folder (its own embedded store); times it and reads the jobs' span."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        env.update(MLFLOW_DISABLE_TELEMETRY="true", PYTHONWARNINGS="ignore")
        cmd = [sys.executable, str(ROOT / "run.py"), "-m", *LAUNCHERS[launcher], *SCENARIOS[scenario],
               f"dataset.n_samples={rows}"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            sys.exit(f"{launcher} sweep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        client = mlflow.MlflowClient(f"sqlite:///{tmp}/outputs/mlflow.db")
        exp = client.get_experiment_by_name("synthetic-imbalanced")
        jobs = [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("runner.sweep") != "true"]
        assert jobs and all(r.info.status == "FINISHED" for r in jobs), "a job did not finish"
        span = (max(r.info.end_time for r in jobs) - min(r.info.start_time for r in jobs)) / 1000
        fit = sum(r.data.metrics["fit_seconds"] for r in jobs)
        return Result(scenario, launcher, repeat, wall, span, fit, len(jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="alternate the order each repeat")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                        help="only this scenario (repeatable; default: all)")
    parser.add_argument("--csv", type=Path, default=ROOT / "outputs" / "benchmarks" / "parallel.csv")  # git-ignored
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from runner.config.resources import cpu_count

    console = Console()
    console.print(f"{cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, {args.rows} rows")
    results: list[Result] = []
    scenarios = args.scenario or list(SCENARIOS)
    for repeat in range(args.repeats):
        for scenario in scenarios:
            order = list(LAUNCHERS) if repeat % 2 == 0 else list(reversed(LAUNCHERS))
            for launcher in order:
                r = run_sweep(scenario, launcher, repeat, args.rows)
                console.print(f"  {scenario} / {launcher}: {r.wall_seconds:.1f} s wall, {r.jobs_seconds:.1f} s jobs,"
                              f" {r.fit_seconds:.1f} s fitting (sum), load {os.getloadavg()[0]:.1f}")
                results.append(r)

    table = Table(title=f"joblib (2 workers) vs basic launcher, {args.rows} rows, {cpu_count()} cores")
    for col in ("scenario", "jobs", "basic wall s", "joblib wall s", "speed-up wall", "basic jobs s",
                "joblib jobs s", "speed-up jobs", "basic fit s", "joblib fit s"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    rows = []
    for scenario in scenarios:
        mine = [r for r in results if r.scenario == scenario]
        mean = lambda launcher, attr: sum(getattr(r, attr) for r in mine if r.launcher == launcher) / args.repeats
        row = {
            "scenario": scenario, "jobs": mine[0].jobs, "repeats": args.repeats,
            "basic_wall_s": mean("basic", "wall_seconds"), "joblib_wall_s": mean("joblib", "wall_seconds"),
            "basic_jobs_s": mean("basic", "jobs_seconds"), "joblib_jobs_s": mean("joblib", "jobs_seconds"),
            "basic_fit_s": mean("basic", "fit_seconds"), "joblib_fit_s": mean("joblib", "fit_seconds"),
        }
        row["speedup_wall"] = row["basic_wall_s"] / row["joblib_wall_s"]
        row["speedup_jobs"] = row["basic_jobs_s"] / row["joblib_jobs_s"]
        rows.append(row)
        table.add_row(scenario, str(row["jobs"]), f"{row['basic_wall_s']:.1f}", f"{row['joblib_wall_s']:.1f}",
                      f"{row['speedup_wall']:.2f}x", f"{row['basic_jobs_s']:.1f}", f"{row['joblib_jobs_s']:.1f}",
                      f"{row['speedup_jobs']:.2f}x", f"{row['basic_fit_s']:.1f}", f"{row['joblib_fit_s']:.1f}")
    console.print(table)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in row.items()} for row in rows)
    console.print(f"wrote {args.csv}; load average now {os.getloadavg()[0]:.1f} "
                  "(a shared machine's other work takes cores from both sides: compare within one run)")


if __name__ == "__main__":
    main()
