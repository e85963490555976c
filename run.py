"""The one entry point: compose a job with Hydra and run it (or a sweep of them with -m).

    python run.py -m model=logreg,rf,xgb sampler=none,smotetomek
"""
from __future__ import annotations

import os
import signal
import sys

import hydra
from omegaconf import DictConfig

# Whether the user asked for Hydra's full tracebacks; run.py sets HYDRA_FULL_ERROR itself so that
# Hydra raises its errors and main() can print them as one line.
_FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR") == "1"


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def task(cfg: DictConfig) -> float:
    """One job; returns `optimized_metric` for sweepers. A user mistake ends a single run in one line."""
    from runner import job
    from runner.errors import UserError

    try:
        return job.run(cfg)
    except UserError as e:
        if _FULL_ERROR:
            raise
        sys.exit(f"error: {e}")


def _fail_parent(current, reason: str) -> None:  # noqa: ANN001 - a runner.sweep.Sweep
    """The sweep stopped outside any job (Hydra could not compose a sweep value): say so on the parent."""
    import mlflow

    from runner import tracking

    client = mlflow.MlflowClient(current.uri)
    client.set_tag(current.parent_run_id, tracking.REASON_TAG, tracking.redact_text(reason))
    client.set_terminated(current.parent_run_id, "FAILED")


def main() -> None:
    """Run Hydra, then close the sweep (if one started) whatever way Hydra ended."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from runner import config, hydra_errors, sweep
    from runner.errors import JobFailed, Terminated, UserError

    config.register()
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises; a bad override is printed below as one line
    try:
        task()
    except (KeyboardInterrupt, Terminated) as e:
        signum = signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT
        if sweep.current():  # closes the runs, prints the leaderboard and how to resume
            sys.exit(sweep.close(interrupted=True, signum=signum) or 128 + signum)
        print("interrupted", file=sys.stderr)
        sys.exit(128 + signum)  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM
    except SystemExit as e:
        code = sweep.close() if sweep.current() else 0
        sys.exit(e.code if e.code not in (0, None) else code)
    except (HydraException, OmegaConfBaseException, UserError) as e:
        message = str(e) if isinstance(e, UserError) else hydra_errors.one_line(e)
        code = 1
        if sweep.current():  # e.g. a sweep value Hydra cannot compose: the parent run says why
            code = sweep.close() or 1
            if not isinstance(e, JobFailed):
                _fail_parent(sweep.current(), message)
        if _FULL_ERROR:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(code)
    code = sweep.close() if sweep.current() else 0
    sys.exit(code)


if __name__ == "__main__":
    from runner import shutdown

    shutdown.run(main)
