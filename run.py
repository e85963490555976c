"""The one entry point: compose a job with Hydra and run it (or a sweep of them with -m).

    python run.py -m model=logreg,rf,xgb sampler=none,smotetomek
"""
from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def task(cfg: DictConfig) -> float:
    """One job; returns `optimized_metric` for sweepers. A user mistake ends a single run in one line."""
    from runner import job
    from runner.errors import UserError

    try:
        return job.run(cfg)
    except UserError as e:
        sys.exit(f"error: {e}")


def main() -> None:
    """Run Hydra, then close the sweep (if one started) whatever way Hydra ended."""
    from runner import config, sweep
    from runner.errors import Terminated

    config.register()
    try:
        task()
    except (KeyboardInterrupt, Terminated):
        if sweep.current():  # closes the runs, prints the leaderboard and how to resume
            sys.exit(sweep.close(interrupted=True) or 130)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit as e:
        code = sweep.close() if sweep.current() else 0
        sys.exit(e.code if e.code not in (0, None) else code)
    code = sweep.close() if sweep.current() else 0
    sys.exit(code)


if __name__ == "__main__":
    main()
