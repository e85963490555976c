"""How failures reach a user: their own mistake in one line, a signal as an exception, any error as one line."""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class UserError(ValueError):
    """A mistake in the config or the data: reported as one line, never as a traceback."""


class Terminated(BaseException):
    """SIGTERM turned into an exception, so a run can be closed as KILLED and the process exit 143."""


def raise_terminated(signum: int, frame: Any) -> None:
    """The one SIGTERM handler: raise `Terminated` where the main thread is."""
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` for the duration (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exception_line(e: BaseException, limit: int = 500) -> str:
    """An exception's message as the one line a user reads (whitespace folded, at most `limit` characters)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def causes(e: BaseException) -> Iterator[BaseException]:
    """`e`, then what it wraps (`__cause__`, else `__context__`), outermost first, each once."""
    seen: set[int] = set()
    x: BaseException | None = e
    while x is not None and id(x) not in seen:
        seen.add(id(x))
        yield x
        x = x.__cause__ or x.__context__
