"""`python -m runner.monitor --model models:/<name>@champion --input batch.csv [--target y]`: check a batch.

Exit codes: 0 within thresholds; 3 drift or degradation crosses a threshold (and the retraining
command is printed); 2 a bad batch, model or option (one line, nothing logged).
"""
from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from runner.cli.common import guarded
from runner.serve.monitor import EXIT_ERROR, THRESHOLDS_FILE


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m runner.monitor",
        description="Compare a batch with a registered model's reference profile (drift, degradation).",
        epilog="exit codes: 0 within thresholds, 3 drift or degradation flagged, 2 error (bad batch, model or option)",
    )
    p.add_argument("--model", required=True, help="models:/<name>@<alias> or models:/<name>/<version>")
    p.add_argument("--input", required=True, type=Path, help="the batch, a CSV file with the model's feature columns")
    p.add_argument("--target", help="the label column, when the batch is labelled")
    p.add_argument("--output", type=Path, help="report folder (default outputs/monitoring/<name>-v<version>-<time>)")
    p.add_argument("--thresholds", type=Path, default=THRESHOLDS_FILE, help="thresholds YAML (default conf/monitor.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one threshold")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one check; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    args = parse(argv)
    from runner.serve.monitor import check

    return guarded(lambda: check(args), EXIT_ERROR)
