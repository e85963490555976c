"""`python run.py [-m] OVERRIDES`: what becomes of Hydra's ending, as exit codes and one-line errors.

run.py holds the Hydra task (Hydra finds `conf/` beside it); `main(task)` runs it and closes the
sweep, if one started, whatever way Hydra ended: 0 done, 1 a user mistake or a failed sweep job,
130/143 interrupted (Ctrl-C/SIGTERM). A mistake is one line; HYDRA_FULL_ERROR=1 keeps Hydra's traceback.
"""
from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from runner.cli.common import error
from runner.errors import Terminated, UserError

# Whether the user asked for Hydra's full tracebacks; main() sets HYDRA_FULL_ERROR itself so that
# Hydra raises its errors and they can be printed as one line.
FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR") == "1"
_said_locked = False  # a job already said in its one line that the store is locked


def job(cfg: Any) -> float:
    """One job; returns `optimized_metric` for sweepers. A user mistake ends a single run in one line."""
    from runner.job import run
    from runner.track.store import StoreLocked

    global _said_locked
    try:
        return run.run(cfg)
    except UserError as e:
        if FULL_ERROR:
            raise
        _said_locked = isinstance(e, StoreLocked)  # in a sweep too: the sweep stops here, in this one line
        sys.exit(f"error: {e}")


def main(task: Callable[[], Any]) -> None:
    """Run Hydra's `task`, then close the sweep (if one started) whatever way Hydra ended."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from runner.config import hydra_errors, schema
    from runner.sweep import lifecycle as sweep

    schema.register()
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
        code = close_sweep() if sweep.current() else 0
        sys.exit(e.code if e.code not in (0, None) else code)
    except (HydraException, OmegaConfBaseException, UserError) as e:
        message = str(e) if isinstance(e, UserError) else hydra_errors.error_line(e)
        code = 1
        if sweep.current():  # e.g. a sweep value Hydra cannot compose: the parent run says why
            code = close_sweep() or 1
            sweep.fail(message)
        if FULL_ERROR:
            raise
        error(message)
        sys.exit(code)
    sys.exit(close_sweep() if sweep.current() else 0)


def close_sweep() -> int:
    """`lifecycle.close()`; a store still locked is one line and exit 1 (the parent run stays RUNNING and
    the next command closes it as orphaned), not a traceback."""
    from runner.sweep import lifecycle as sweep
    from runner.track import store

    try:
        return sweep.close()
    except Exception as e:
        if not store.is_locked(e):
            raise
        if not _said_locked:
            current = sweep.current()
            error(f"{store.where(current.uri if current else None)} is locked by another process; the sweep could not "
                  "be closed (the next command that opens the store closes its runs)")
        return 1
