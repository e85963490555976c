"""`python -m runner.rerun <run_id> [--set key=value ...] [--register]`: train a recorded run again.

Exit codes: 0 trained (metrics printed beside the original's), 2 a user mistake (one line).
"""
from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from runner.cli.common import guarded
from runner.track import names

EXIT_ERROR = 2


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m runner.rerun",
                                description="Train a recorded run again from its logged resolved config, as a new run.",
                                epilog="exit codes: 0 trained (metrics printed beside the original's), 2 error")
    p.add_argument("run_id")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change or supply one config value (e.g. a redacted secret)")
    p.add_argument("--register", action="store_true", help="register the new model as registry.name says")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    args = parse(argv)

    def work() -> int:
        import mlflow

        from runner.job.rerun import compare, rerun
        from runner.track import store

        new = rerun(args.run_id, args.set, args.register)
        client = mlflow.MlflowClient(store.resolve_uri(None))
        worst = 0.0
        for name, was, now in compare(client, args.run_id, new):
            worst = max(worst, abs(was - now))
            print(f"{name:20s} original {was:.10g}  rerun {now:.10g}")
        print(f"new run {new} ({names.RERUN_OF}={args.run_id}); largest metric difference {worst:.3g}")
        return 0

    return guarded(work, EXIT_ERROR)
