"""Per-job overhead of two git revisions, side by side: `benchmarks/phases.py` of each, alternating.

Each revision's tree (run.py, conf/, runner/, benchmarks/) is extracted with `git archive` and its own
phases.py runs there (it patches that revision's module names), in alternating pairs so that the
machine's load drifts over both alike. Prints each pair and the median of the per-pair differences.

    python benchmarks/compare_revisions.py b4d8a38 HEAD --pairs 5
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVERHEAD = re.compile(r"per-job overhead, warm median: ([0-9.]+) s")


def extract(revision: str, where: Path) -> Path:
    """The revision's tree in `where`."""
    where.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision, "run.py", "conf", "runner", "benchmarks"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    (where / "tree.tar").write_bytes(archive)
    with tarfile.open(where / "tree.tar") as tar:
        tar.extractall(where, filter="data")
    return where


def overhead(tree: Path, repeat: int) -> float:
    """The warm median per-job overhead phases.py reports for `tree`."""
    proc = subprocess.run([sys.executable, str(tree / "benchmarks" / "phases.py"), "--repeat", str(repeat)],
                          cwd=tree, capture_output=True, text=True, timeout=1800, env={"PYTHONPATH": str(tree),
                          "PATH": "/usr/bin:/bin", "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"})
    found = OVERHEAD.search(proc.stdout)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"phases.py failed in {tree}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return float(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=2, help="phases.py --repeat (six jobs each)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="runner-revisions-") as tmp:
        trees = {r: extract(r, Path(tmp) / f"{i}") for i, r in enumerate((args.before, args.after))}
        diffs = []
        for i in range(args.pairs):
            order = (args.before, args.after) if i % 2 == 0 else (args.after, args.before)
            got = {r: overhead(trees[r], args.repeat) for r in order}
            diffs.append(got[args.after] - got[args.before])
            print(f"pair {i + 1}: {args.before} {got[args.before]:.3f} s, {args.after} {got[args.after]:.3f} s, "
                  f"after - before {diffs[-1]:+.3f} s", flush=True)
        print(f"median per-job overhead difference (after - before) over {args.pairs} pairs: "
              f"{statistics.median(diffs):+.3f} s")


if __name__ == "__main__":
    main()
