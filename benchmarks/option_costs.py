"""Wall time of the card sweep under each evaluation and decision option, side by side in one run.

The card's six jobs (`-m model=logreg,rf,xgb sampler=none,smotetomek`), each variant on a fresh
store in its own folder, one after another, `--repeat` rounds in alternating order; prints each
variant's median wall time and its ratio to the default (eval=holdout, no threshold, no calibration).

    python benchmarks/option_costs.py [--repeat 2]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARD = ["-m", "model=logreg,rf,xgb", "sampler=none,smotetomek"]
VARIANTS = {
    "default (eval=holdout)": [],
    "eval=cv": ["eval=cv"],
    "threshold=tuned": ["threshold=tuned"],
    "calibration=isotonic": ["calibration=isotonic"],
    "calibration=isotonic threshold=tuned": ["calibration=isotonic", "threshold=tuned"],
    "eval=cv threshold=tuned": ["eval=cv", "threshold=tuned"],
    "eval=cv calibration=isotonic": ["eval=cv", "calibration=isotonic"],
    "eval=cv calibration=isotonic threshold=tuned": ["eval=cv", "calibration=isotonic", "threshold=tuned"],
}


def sweep(overrides: list[str]) -> float:
    """Seconds of one card sweep with `overrides` on a fresh store."""
    with tempfile.TemporaryDirectory(prefix="runner-costs-") as tmp:
        env = {"PATH": "/usr/bin:/bin", "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg",
               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *CARD, *overrides], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=3600)
        seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{overrides} failed:\n{proc.stderr[-3000:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--only", type=int, default=len(VARIANTS), help="the first N variants (the default first)")
    args = ap.parse_args()
    variants = dict(list(VARIANTS.items())[: args.only])
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.repeat):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            times[name].append(sweep(variants[name]))
            print(f"round {r + 1}: {name}: {times[name][-1]:.1f} s", flush=True)
    base = statistics.median(times["default (eval=holdout)"])
    print("\n| card sweep | median wall s | x default |\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.1f} | {statistics.median(values) / base:.1f} |")


if __name__ == "__main__":
    main()
