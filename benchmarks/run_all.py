"""Side-by-side performance benchmark of the runner (see README, "## Performance").

Parts (choose with --parts, comma-separated; default: compare,compose,smotetomek):

  compare     the card's sweep vs the tutorial-style script, each from an empty temp folder on its
              own fresh SQLite store, interleaved --repeat times: wall-time ratio (goal <= 0.25) and
              the per-job overhead = MLflow run duration - fit_seconds, median over the sweep
              (goal <= 0.25 s, plots and registration included). Beside them, the floor: a process
              that only imports what a job imports (Hydra, MLflow, scikit-learn, XGBoost,
              imbalanced-learn, matplotlib) and creates a fresh store and experiment, no job at all
  compose     `python run.py --cfg job` vs a bare `python -c "import hydra"` (goal <= 3x) and the
              modules `--cfg job` imports (from -X importtime: no ML stack)
  smotetomek  SMOTETomek at --smote-rows x 20 features: imblearn's defaults vs the configured
              sampler (conf/sampler/smotetomek.yaml), same resampled data checked (goal <= 0.6x)
  scale       single jobs at dataset.n_samples in --sizes for each model x sampler: fit time,
              job wall time, per-job overhead, peak RSS (long: use --sizes to run a part of it)

Every part runs its commands side by side in one invocation and reports medians, because the
machine may be shared. Results go to --out (CSV per part) and a table on stdout.

    python benchmarks/run_all.py                                   # compare, compose, smotetomek
    python benchmarks/run_all.py --parts scale --sizes 1000,10000  # a quick scale run
    python benchmarks/run_all.py --parts all                       # everything (about half an hour)
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "run.py"
# ../shared from the project's root (a clean clone); ../../shared from a git worktree under wt/
TUTORIAL_CANDIDATES = [base / "shared" / "benchmarks" / "tutorial_style.py" for base in (ROOT.parent, ROOT.parent.parent)]
DEFAULT_TUTORIAL = next((p for p in TUTORIAL_CANDIDATES if p.exists()), TUTORIAL_CANDIDATES[0])
CARD_SWEEP = ["-m", "model=logreg,rf,xgb", "sampler=none,smotetomek", "registry.register=true"]
ML_STACK = ("mlflow", "sklearn", "xgboost", "imblearn", "matplotlib", "pandas", "scipy")
PARTS = ("compare", "compose", "smotetomek", "scale")
FLOOR_SCRIPT = (  # what any run of the card must pay before its first job: imports, a fresh store
    "import sys; sys.path.insert(0, {root!r}); import os, hydra; from runner.cli import shutdown; "
    "from runner.sweep import warmup; from runner.track import store; "
    "warmup.imports(); store.prepare(os.environ['MLFLOW_TRACKING_URI'], 'floor'); shutdown.lighten()"
)


def env_for(uri: str | None = None) -> dict[str, str]:
    """The environment of every measured command: no telemetry, headless plots, an explicit store."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"})
    if uri:
        env["MLFLOW_TRACKING_URI"] = uri
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 3600) -> tuple[float, int, str]:
    """Run a command; return (wall seconds, peak RSS of the process in MB, stderr tail).

    `os.wait4` gives this child's own resource usage, so peak memory is per command.
    """
    t0 = time.perf_counter()
    with open(cwd / ".stdout", "w") as out, open(cwd / ".stderr", "w+") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        err.seek(0)
        tail = err.read()[-2000:]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode} in {cwd}:\n{tail}")
    return wall, int(usage.ru_maxrss / 1024), tail


def job_runs(uri: str) -> list[Any]:
    """The job runs (not sweep parents) of every experiment in a store."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(exps, max_results=5000)
    return [r for r in runs if r.data.tags.get("runner.sweep") != "true"]


def overheads(uri: str) -> list[dict[str, Any]]:
    """Per job: run duration (spans the whole job), fit_seconds and their difference."""
    rows = []
    for r in job_runs(uri):
        duration = (r.info.end_time - r.info.start_time) / 1000
        fit = r.data.metrics.get("fit_seconds", float("nan"))
        rows.append({"run": r.info.run_name, "status": r.info.status, "duration_s": duration,
                     "fit_s": fit, "overhead_s": duration - fit, "start": r.info.start_time})
    return sorted(rows, key=lambda row: row["start"])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- part 1 and 2: the card's sweep vs the tutorial-style script ------------------------------

def part_compare(args: argparse.Namespace) -> list[dict[str, Any]]:
    tutorial = Path(args.tutorial).resolve()
    if not tutorial.exists():
        sys.exit(f"error: --tutorial {tutorial}: no such file")
    rows = []
    for i in range(args.repeat):
        order = ("tutorial", "card", "floor") if i % 2 == 0 else ("floor", "card", "tutorial")
        walls: dict[str, float] = {}
        job_rows: list[dict[str, Any]] = []
        for which in order:
            with tempfile.TemporaryDirectory(prefix=f"bench-{which}-") as tmp:
                folder = Path(tmp)
                if which == "tutorial":  # as it is: it opens sqlite:///mlflow.db in its own folder
                    walls[which], _, _ = timed([sys.executable, str(tutorial)], folder, env_for())
                elif which == "floor":
                    floor = ["-c", FLOOR_SCRIPT.format(root=str(ROOT))]
                    walls[which], _, _ = timed([sys.executable, *floor], folder, env_for(f"sqlite:///{folder / 'mlflow.db'}"))
                else:
                    uri = f"sqlite:///{folder / 'mlflow.db'}"
                    walls[which], _, _ = timed([sys.executable, str(RUN_PY), *CARD_SWEEP], folder, env_for(uri))
                    job_rows = overheads(uri)
        per_job = [r["overhead_s"] for r in job_rows]
        row = {"repeat": i + 1, "tutorial_s": walls["tutorial"], "card_s": walls["card"],
               "ratio": walls["card"] / walls["tutorial"], "floor_s": walls["floor"],
               "floor_ratio": walls["floor"] / walls["tutorial"], "jobs": len(job_rows),
               "overhead_median_s": median(per_job), "overhead_max_s": max(per_job),
               "overhead_after_first_median_s": median(per_job[1:]),
               "fit_sum_s": sum(r["fit_s"] for r in job_rows)}
        rows.append(row)
        print(f"  compare {i + 1}/{args.repeat}: tutorial {row['tutorial_s']:.2f}s card {row['card_s']:.2f}s "
              f"ratio {row['ratio']:.3f} (floor {row['floor_s']:.2f}s, {row['floor_ratio']:.3f}); "
              f"per-job overhead median {row['overhead_median_s']:.3f}s "
              f"({', '.join(f'{x:.2f}' for x in per_job)})", flush=True)
    return rows


# --- part 3: composition ------------------------------------------------------------------------

def imported_top_level(cmd: list[str], cwd: Path) -> set[str]:
    """Top-level packages a command imports, from `python -X importtime`."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd], cwd=cwd, env=env_for(),
                          capture_output=True, text=True, check=True)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                names.add(name.split(".")[0])
    return names


def part_compose(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-compose-") as tmp:
        folder = Path(tmp)
        cfg_job = [str(RUN_PY), "--cfg", "job", "model=xgb", "sampler=smotetomek"]
        bare = ["-c", "import hydra"]
        for cmd in (cfg_job, bare):  # warm the OS cache and .pyc files once, unmeasured
            timed([sys.executable, *cmd], folder, env_for())
        for i in range(args.repeat * 3):
            order = (cfg_job, bare) if i % 2 == 0 else (bare, cfg_job)
            wall = {}
            for cmd in order:
                wall[cmd is cfg_job] = timed([sys.executable, *cmd], folder, env_for())[0]
            rows.append({"repeat": i + 1, "cfg_job_s": wall[True], "import_hydra_s": wall[False],
                         "ratio": wall[True] / wall[False]})
        ml = sorted(imported_top_level(cfg_job, folder) & set(ML_STACK))
    for row in rows:
        row["ml_stack_imported"] = " ".join(ml) or "none"
    print(f"  compose: run.py --cfg job imports ML stack: {' '.join(ml) or 'none'}", flush=True)
    return rows


# --- SMOTETomek at 1e5 x 20 -------------------------------------------------------------------------

SMOTE_SCRIPT = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, {root!r})
from hydra import compose, initialize_config_dir
from imblearn.combine import SMOTETomek
from runner.config import schema
from runner.train import data, pipeline

schema.register()
with initialize_config_dir(config_dir={conf!r}, version_base="1.3"):
    cfg = compose(config_name="config", overrides=["sampler=smotetomek", "dataset.n_features=20",
                                                   "dataset.n_samples={rows}"])
split = data.load_split(cfg.dataset)
X, y = split.X_train, split.y_train
out = {{"train_rows": len(y), "features": X.shape[1]}}
results = {{}}
for which in {order!r}:
    sampler = SMOTETomek(random_state=cfg.seed) if which == "default" else pipeline.build_sampler(cfg)
    t = time.perf_counter()
    Xr, yr = sampler.fit_resample(X, y)
    out[which + "_s"] = time.perf_counter() - t
    results[which] = (np.asarray(Xr), np.asarray(yr))
out["same_data"] = bool(np.array_equal(results["default"][0], results["configured"][0])
                        and np.array_equal(results["default"][1], results["configured"][1]))
out["resampled_rows"] = len(results["default"][1])
print(json.dumps(out))
"""


def part_smotetomek(args: argparse.Namespace) -> list[dict[str, Any]]:
    import json

    rows = []
    for i in range(args.smote_repeat):
        order = ["default", "configured"] if i % 2 == 0 else ["configured", "default"]
        script = SMOTE_SCRIPT.format(root=str(ROOT), conf=str(ROOT / "conf"), rows=args.smote_rows, order=order)
        proc = subprocess.run([sys.executable, "-c", script], env=env_for(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        out.update(repeat=i + 1, ratio=out["configured_s"] / out["default_s"])
        rows.append(out)
        print(f"  smotetomek {i + 1}/{args.smote_repeat}: defaults {out['default_s']:.2f}s configured "
              f"{out['configured_s']:.2f}s ratio {out['ratio']:.3f} same data {out['same_data']}", flush=True)
    return rows


# --- part 4: scale ------------------------------------------------------------------------------------

def part_scale(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(tmp)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        # create the store first, so no job's duration includes creating it
        timed([sys.executable, str(RUN_PY), "dataset.n_samples=300"], folder, env_for(uri))
        seen = 1
        for n in [int(float(s)) for s in args.sizes.split(",")]:
            for model in args.models.split(","):
                for sampler in args.samplers.split(","):
                    cmd = [sys.executable, str(RUN_PY), f"model={model}", f"sampler={sampler}",
                           f"dataset.n_samples={n}", "registry.register=true", *args.extra]
                    wall, rss, _ = timed(cmd, folder, env_for(uri))
                    runs = overheads(uri)
                    job = runs[-1] if len(runs) > seen else {}
                    seen = len(runs)
                    row = {"n_samples": n, "model": model, "sampler": sampler, "fit_s": job.get("fit_s"),
                           "run_duration_s": job.get("duration_s"), "overhead_s": job.get("overhead_s"),
                           "process_wall_s": wall, "peak_rss_mb": rss}
                    rows.append(row)
                    print(f"  scale n={n:>8} {model:>6}+{sampler:<10} fit {row['fit_s']:.2f}s run "
                          f"{row['run_duration_s']:.2f}s overhead {row['overhead_s']:.2f}s process {wall:.2f}s "
                          f"peak {rss} MB", flush=True)
    return rows


# --- output -------------------------------------------------------------------------------------------

def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def summary(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One line per goal: median measured value, the goal and whether it was met."""
    out = []

    def add(what: str, value: float, goal: str, ok: bool | None, note: str = "") -> None:
        met = "-" if ok is None else "yes" if ok else "NO"
        out.append({"measure": what, "median": round(value, 3), "goal": goal, "met": met,
                    "note": note})

    if "compare" in results:
        r = results["compare"]
        ratio = median([x["ratio"] for x in r])
        add("sweep / tutorial wall-time ratio", ratio, "<= 0.25", ratio <= 0.25,
            f"tutorial {median([x['tutorial_s'] for x in r]):.2f}s, card {median([x['card_s'] for x in r]):.2f}s, "
            f"{len(r)} pairs")
        floor, tutorial = median([x["floor_s"] for x in r]), median([x["tutorial_s"] for x in r])
        fits = median([x["fit_sum_s"] for x in r])
        add("floor / tutorial (imports + fresh store, no job)", floor / tutorial, "-", None,
            f"floor {floor:.2f}s + the six fits {fits:.2f}s leave {0.25 * tutorial - floor - fits:.2f}s "
            "of the 0.25 goal for Hydra and six tracked jobs")
        over = median([x["overhead_median_s"] for x in r])
        add("per-job overhead (s)", over, "<= 0.25", over <= 0.25,
            f"median over 6 jobs, median of {len(r)} sweeps; max {max(x['overhead_max_s'] for x in r):.2f}s")
    if "compose" in results:
        r = results["compose"]
        ratio = median([x["ratio"] for x in r])
        ml = r[0]["ml_stack_imported"]
        add("run.py --cfg job / import hydra", ratio, "<= 3", ratio <= 3 and ml == "none",
            f"{median([x['cfg_job_s'] for x in r]):.2f}s vs {median([x['import_hydra_s'] for x in r]):.2f}s; "
            f"ML stack imported: {ml}")
    if "smotetomek" in results:
        r = results["smotetomek"]
        ratio = median([x["ratio"] for x in r])
        same = all(x["same_data"] for x in r)
        add(f"SMOTETomek configured / defaults ({r[0]['train_rows']} x {r[0]['features']})", ratio, "<= 0.6",
            ratio <= 0.6 and same,
            f"defaults {median([x['default_s'] for x in r]):.2f}s, configured "
            f"{median([x['configured_s'] for x in r]):.2f}s; same resampled data: {same}")
    if "scale" in results:
        r = results["scale"]
        big = [x for x in r if x["n_samples"] >= 1_000_000]
        if big:
            peak = max(x["peak_rss_mb"] for x in big)
            add("peak RSS at 1e6 rows (MB)", peak, "< 1536", peak < 1536, "max over models and samplers")
        by_n: dict[int, list[float]] = {}
        for x in r:
            by_n.setdefault(x["n_samples"], []).append(x["overhead_s"])
        meds = {n: median(v) for n, v in sorted(by_n.items())}
        spread = max(meds.values()) / max(min(meds.values()), 1e-9)
        add("per-job overhead, largest / smallest median over n_samples", spread, "flat (<= 1.5)", spread <= 1.5,
            ", ".join(f"{n:g}: {m:.2f}s" for n, m in meds.items()))
    return out


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        return
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key, overflow="fold")
    for row in rows:
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()])
    Console(width=200).print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="compare,compose,smotetomek", help=f"comma-separated: {', '.join(PARTS)} or all")
    parser.add_argument("--repeat", type=int, default=3, help="side-by-side pairs for compare (compose does 3x)")
    parser.add_argument("--tutorial", default=str(DEFAULT_TUTORIAL), help="the tutorial-style script")
    parser.add_argument("--smote-rows", type=int, default=100_000, help="dataset.n_samples for the SMOTETomek part")
    parser.add_argument("--smote-repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="dataset.n_samples for scale")
    parser.add_argument("--models", default="logreg,rf,xgb")
    parser.add_argument("--samplers", default="none,smotetomek")
    parser.add_argument("--extra", nargs="*", default=[], help="extra overrides for every scale job")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for the CSV files")
    args = parser.parse_args(argv)
    parts = PARTS if args.parts == "all" else tuple(p.strip() for p in args.parts.split(","))
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"--parts: unknown {', '.join(sorted(unknown))}; allowed: {', '.join(PARTS)}, all")

    import platform

    print(f"runner benchmark {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()}: "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {}
    for part in PARTS:
        if part in parts:
            results[part] = globals()[f"part_{part}"](args)
            write_csv(results[part], Path(args.out) / f"{part}.csv")
    rows = summary(results)
    write_csv(rows, Path(args.out) / "summary.csv")
    print_table(rows, f"runner benchmark (medians; load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
