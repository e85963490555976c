"""Review at scale: `python -m runner.review` and the HTML report on a store of 3,000 job runs.

    python benchmarks/review_scale.py [--sweeps 30] [--jobs 100] [--keep DIR]

Builds a temp SQLite store holding `sweeps` sweeps of `jobs` job runs each (3,000 by default), shaped like the
runner's: a parent run per sweep (tags runner.sweep, runner.sweep_dir, runner.overrides, runner.optimized_metric,
runner.job.<n>), children with the config's params (model.C and model.max_iter varied), the held-out metrics with
their intervals, the calibration metrics, fit_seconds, and the tags the leaderboard reads. Written with
MlflowClient.log_batch, no training. The latest sweep's jobs also log `predictions/holdout.parquet` (300 rows), so
its leaderboard marks (paired bootstrap) and the report's curves do real work; no job logs a model, so the report's
feature importance says "not available" (computing it costs ~1 s per top job and is logged, then read back).

Then times, each as a fresh process (best of 3):
  * `python -m runner.review`                               the latest sweep      goal < 2 s
  * `python -m runner.review --experiment <name>`           the whole experiment  goal < 3 s
  * `python -m runner.review --html report.html`            the 100-job sweep     goal < 10 s, < 5 MB

and, for scale, the floor every command pays before it reads a run: a fresh `python -c "import mlflow;
mlflow.MlflowClient(uri).search_experiments()"` (the interpreter, MLflow's import, opening the SQLite store).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

EXPERIMENT = "synthetic-imbalanced"
GOALS = {"review (latest sweep)": 2.0, "review --experiment": 3.0, "review --html (report)": 10.0}


def params_of(job: int, c: float, max_iter: int) -> dict[str, str]:
    """The ~40 params a logreg job logs (every leaf of its resolved config)."""
    p = {
        "dataset.kind": "synthetic", "dataset.name": EXPERIMENT, "dataset.n_samples": "1000", "dataset.n_features": "10",
        "dataset.n_informative": "2", "dataset.n_redundant": "8", "dataset.n_repeated": "0", "dataset.n_classes": "2",
        "dataset.weights": "[0.9, 0.1]", "dataset.flip_y": "0.0", "dataset.class_sep": "1.0", "dataset.random_state": "42",
        "dataset.test_size": "0.3", "model._target_": "sklearn.linear_model.LogisticRegression", "model.C": repr(c),
        "model.max_iter": str(max_iter), "model.solver": "lbfgs", "model.random_state": "42", "sampler._target_": "null",
        "preprocess.kind": "none", "weighting.kind": "none", "calibration.method": "none", "threshold.kind": "none",
        "eval.kind": "holdout", "eval.bootstrap": "1000", "eval.confidence": "0.95", "seed": "42",
        "optimized_metric": "f1", "rerun": "False", "registry.register": "False", "registry.name": f"{EXPERIMENT}-classifier",
        "registry.promote": "True", "registry.gate": "significant", "registry.min_delta": "0.0", "registry.alpha": "0.05",
        "registry.min_rows": "50", "runner.preflight": "True", "runner.stale_after": "600.0", "runner.lock_wait": "60.0",
        "mlflow.experiment_name": EXPERIMENT,
    }
    return p


def quality(c: float, max_iter: int) -> float:
    """How good a job is (0..1): C matters, max_iter a little."""
    return float(np.clip(0.55 + 0.12 * np.log10(c) - 0.03 * np.log10(c) ** 2 + 0.00005 * max_iter, 0.05, 0.95))


def predictions(q: float, rng: np.random.Generator, n: int = 300) -> pd.DataFrame:
    y = np.zeros(n, dtype=np.int64)
    y[: n // 10] = 1
    score = np.clip(rng.normal(0.25 + 0.5 * q * y, 0.18), 0.0, 1.0)
    return pd.DataFrame({"row": np.arange(n, dtype=np.int64) * 3, "label": y, "prediction": (score >= 0.5).astype(np.int64),
                         "proba_0": 1 - score, "proba_1": score})


def build(folder: Path, sweeps: int, jobs: int, seed: int = 0) -> str:
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    from runner.train.evaluate import scores

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment(EXPERIMENT, artifact_location=(folder / "mlartifacts").as_uri())
    rng = np.random.default_rng(seed)
    cs = [0.001, 0.01, 0.1, 1.0, 10.0]
    iters = [50, 100, 200, 400]
    t0 = time.perf_counter()
    for s in range(sweeps):
        latest = s == sweeps - 1
        start = 1_700_000_000_000 + s * 3_600_000
        sweep_dir = f"/bench/outputs/sweeps/2026-01-01/{s:02d}-00-00"
        overrides = "model=logreg model.C=0.001,0.01,0.1,1,10 model.max_iter=50,100,200,400 seed=range(5)"
        parent = client.create_run(exp, start_time=start, run_name=f"sweep {s}", tags={
            "runner.sweep": "true", "runner.sweep_dir": sweep_dir, "runner.overrides": overrides,
            "runner.optimized_metric": "f1"}).info.run_id
        parent_tags = []
        for j in range(jobs):
            c, max_iter = cs[j % len(cs)], iters[(j // len(cs)) % len(iters)]
            q = quality(c, max_iter)
            if latest:  # real scores of the predictions it logs
                frame = predictions(q, rng)
                m = scores(frame["label"], frame["prediction"], frame[["proba_0", "proba_1"]].to_numpy(), np.array([0, 1]))
            else:  # numbers of the same shape, without computing them (3 ms instead of 30 per run)
                m = {k: float(np.clip(q + rng.normal(0, 0.02) + d, 0, 1)) for k, d in (
                    ("accuracy", 0.3), ("balanced_accuracy", 0.2), ("precision", 0.0), ("recall", 0.0), ("f1", 0.0),
                    ("f1_macro", 0.15), ("roc_auc", 0.3), ("average_precision", 0.1))}
                m.update(brier_score=0.1 - 0.05 * q, log_loss=0.4 - 0.2 * q, calibration_error=0.05)
            metrics = {**m, "fit_seconds": float(rng.uniform(0.01, 0.2))}
            for k in list(m):
                if k in ("brier_score", "log_loss", "calibration_error"):
                    continue
                metrics[f"{k}_ci_low"], metrics[f"{k}_ci_high"] = max(m[k] - 0.08, 0.0), min(m[k] + 0.08, 1.0)
            tags = {"mlflow.parentRunId": parent, "runner.job_num": str(j), "runner.model": "logreg",
                    "runner.sampler": "none", "runner.dataset": EXPERIMENT, "runner.eval": "holdout",
                    "runner.overrides": f"model=logreg model.C={c} model.max_iter={max_iter} seed={j // 20}",
                    "runner.data_digest": "d" * 32, "runner.identity": f"{s:04d}{j:04d}" + "0" * 24,
                    "runner.code_version": "c" * 16, "runner.output_dir": f"{sweep_dir}/{j}", "mlflow.runName": "logreg+none"}
            run_id = client.create_run(exp, start_time=start + j * 1000, tags=tags, run_name="logreg+none").info.run_id
            now = start + j * 1000 + 500
            client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                             params=[Param(k, v) for k, v in params_of(j, c, max_iter).items()], synchronous=True)
            if latest:
                (folder / "predictions").mkdir(exist_ok=True)
                path = folder / "predictions" / "holdout.parquet"
                frame.to_parquet(path, index=False)
                client.log_artifact(run_id, str(path), "predictions")
            client.set_terminated(run_id, "FINISHED", end_time=now + 400)
            parent_tags.append(RunTag(f"runner.job.{j}", run_id))
        for b in range(0, len(parent_tags), 100):
            client.log_batch(parent, tags=parent_tags[b:b + 100], synchronous=True)
        client.set_terminated(parent, "FINISHED", end_time=start + jobs * 1000 + 1000)
        print(f"  sweep {s + 1}/{sweeps}: {jobs} jobs ({time.perf_counter() - t0:.0f} s)", flush=True)
    return uri


FLOOR = "import mlflow; mlflow.MlflowClient({uri!r}).search_experiments()"


def timed(cmd: list[str], cwd: Path, uri: str, repeat: int = 3) -> float:
    """Best wall time of `python -m runner.review CMD` (or, with cmd ["-c", code], of `python -c code`)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "160"}
    argv = cmd if cmd[:1] == ["-c"] else ["-m", "runner.review", *cmd]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
        best = min(best, elapsed)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sweeps", type=int, default=30)
    p.add_argument("--jobs", type=int, default=100)
    p.add_argument("--keep", type=Path, help="build the store here and keep it (default: a temp folder, removed)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="review-scale-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "mlflow.db"
        t = time.perf_counter()
        if db.exists():
            uri = f"sqlite:///{db}"
            print(f"reusing the store {db}")
        else:
            print(f"building {args.sweeps} sweeps x {args.jobs} jobs = {args.sweeps * args.jobs} job runs in {folder}")
            uri = build(folder, args.sweeps, args.jobs)
            print(f"built in {time.perf_counter() - t:.0f} s")
        report = folder / "report.html"
        floor = timed(["-c", FLOOR.format(uri=uri)], folder, uri)
        results = {
            "review (latest sweep)": timed([], folder, uri),
            "review --experiment": timed(["--experiment", EXPERIMENT], folder, uri),
            "review --html (report)": timed(["--html", str(report)], folder, uri, repeat=2),
        }
        size = report.stat().st_size
        print(f"\n{'what':<28} {'seconds':>8}  goal")
        for what, seconds in results.items():
            goal = GOALS[what]
            print(f"{what:<28} {seconds:8.2f}  < {goal:g} s {'ok' if seconds < goal else 'MISSED'}")
        print(f"{'report.html size':<28} {size / 1e6:8.2f}  < 5 MB {'ok' if size < 5e6 else 'MISSED'}")
        print(f"{'floor (python + mlflow)':<28} {floor:8.2f}  every command's start: import mlflow, open the store")


if __name__ == "__main__":
    main()
