"""The convention every command line follows.

A user mistake (`UserError`) is one line on stderr, `error: <what and what to do>`, and the
command's documented error code; Ctrl-C is one line and 130, SIGTERM 143 (the shell's 128 + signal);
a bug keeps its traceback. Each command's `main(argv)` returns its exit code and `python -m` runs
it through `run`, which also lightens the interpreter's exit.
"""
from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from runner.cli import shutdown
from runner.errors import Terminated, UserError

EXIT_OK = 0
EXIT_INTERRUPTED = 128 + signal.SIGINT    # 130
EXIT_TERMINATED = 128 + signal.SIGTERM    # 143


def error(message: str) -> None:
    """The one line a user reads for their own mistake."""
    print(f"error: {message}", file=sys.stderr)


def guarded(work: Callable[[], int], error_code: int, interrupted: str = "interrupted") -> int:
    """`work()`'s exit code; a UserError or an interruption as one line and its code."""
    try:
        return work()
    except UserError as e:
        error(str(e))
        return error_code
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(interrupted, file=sys.stderr)
        return EXIT_TERMINATED


def run(main: Callable[[], int | None]) -> None:
    """`sys.exit(main())` for a `python -m` entry point, lightening the interpreter's exit."""
    shutdown.run(main)
