"""A/A test of the promotion gate: how often does `champion` move to an equally good challenger?

Pairs of real runner jobs that differ only in `model.random_state` (rf, whose seed changes its
predictions), on the default data:
- `same split`: both on the same held-out split;
- `split differently`: the same data (the default data written to a CSV, so one digest) split with
  another `dataset.random_state` per job, so only the rows neither model trained on are fair.
Every pair is registered as a fresh model (champion, then challenger) once per gate rule, and the
challenger's decision read back. A real improvement (an xgb challenger against a logreg champion,
same split, the data seed varied) shows the gate still promotes. Rates come with 95% Clopper-Pearson
intervals.

    python benchmarks/gate_aa.py --pairs 100
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=100, help="A/A pairs per scenario (default 100)")
    ap.add_argument("--power-pairs", type=int, default=20, help="xgb-vs-logreg pairs (default 20)")
    args = ap.parse_args()

    import mlflow
    from scipy.stats import binomtest

    from helpers import compose
    from runner.job import run as job
    from runner.registry import gate, versions
    from runner.train import data

    folder = Path(tempfile.mkdtemp(prefix="runner-gate-aa-"))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    X, y = data.load(compose([]).dataset)
    X.assign(target=y).to_csv(folder / "default.csv", index=False)
    csv = ["dataset=csv", f"dataset.path={folder / 'default.csv'}", "dataset.target=target", "preprocess=none"]

    def train(*overrides: str) -> str:
        job.run(compose([f"mlflow.tracking_uri={uri}", "rerun=true", *overrides]))
        (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()],
                                    order_by=["attributes.start_time DESC"], max_results=1)
        return str(run.info.run_id)

    def decide(name: str, champion: str, challenger: str, rule: str) -> bool:
        settings = gate.GateSettings(rule=rule)
        with contextlib.redirect_stdout(io.StringIO()):
            for run_id in (champion, challenger):
                run = client.get_run(run_id)
                version = versions.register(client, run.data.tags["runner.model_uri"], name, run_id,
                                            versions.version_tags(run_id, run.data.tags, run.data.metrics))
                decision = gate.gate(client, uri, name, version, "f1", True, settings)
        assert decision is not None
        return decision.promoted

    scenarios = {
        "same split": lambda i, side: ["model=rf", f"model.random_state={1000 + 2 * i + side}"],
        "split differently": lambda i, side: [*csv, "model=rf", f"model.random_state={1000 + 2 * i + side}",
                                              f"dataset.random_state={5000 + 2 * i + side}"],
        "xgb over logreg": lambda i, side: [f"seed={i}", "model=xgb" if side else "model=logreg"],
    }
    rows = []
    for scenario, overrides in scenarios.items():
        n = args.power_pairs if scenario == "xgb over logreg" else args.pairs
        promoted = {"better": 0, "significant": 0}
        t = time.perf_counter()
        for i in range(n):
            champion, challenger = train(*overrides(i, 0)), train(*overrides(i, 1))
            for rule in promoted:
                promoted[rule] += decide(f"{rule}-{scenario.replace(' ', '-')}-{i}", champion, challenger, rule)
        for rule, k in promoted.items():
            ci = binomtest(k, n).proportion_ci(0.95, method="exact")
            rows.append((scenario, rule, k, n, k / n, ci.low, ci.high))
            print(f"{scenario:18s} registry.gate={rule:11s} promoted {k:3d}/{n} = {k / n:.3f} "
                  f"[95% CI {ci.low:.3f}, {ci.high:.3f}]", flush=True)
        print(f"  ({time.perf_counter() - t:.0f} s)", flush=True)
    print("\n| pairs | rule | promoted | rate | 95% interval |\n|---|---|---|---|---|")
    for scenario, rule, k, n, rate, low, high in rows:
        print(f"| {scenario} | {rule} | {k}/{n} | {rate:.3f} | [{low:.3f}, {high:.3f}] |")


if __name__ == "__main__":
    main()
