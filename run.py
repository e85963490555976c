"""The one entry point: compose a job with Hydra and run it (or a sweep of them with -m).

    python run.py -m model=logreg,rf,xgb sampler=none,smotetomek
"""
from __future__ import annotations

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def task(cfg: DictConfig) -> float:
    """One job (runner.job.run); returns `optimized_metric` for sweepers."""
    from runner.cli.run import job

    return job(cfg)


if __name__ == "__main__":
    from runner.cli.common import run
    from runner.cli.run import main

    run(lambda: main(task))
