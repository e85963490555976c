"""How failures reach a user (runner.errors): SIGTERM as an exception, any error as one line."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from runner import errors


def test_sigterm_is_an_exception_inside_the_block_and_the_old_handler_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(errors.Terminated, match="signal 15"), errors.sigterm_as_exception():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_the_main_thread_it_changes_nothing() -> None:
    seen = []

    def other() -> None:
        with errors.sigterm_as_exception():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [before]


def test_an_exception_as_the_one_line_a_user_reads() -> None:
    assert errors.exception_line(ValueError("a\n  b\tc ")) == "a b c"
    assert errors.exception_line(KeyError()) == "KeyError"
    long = errors.exception_line(ValueError("x" * 600))
    assert len(long) == 500 and long.endswith("...")
    assert errors.exception_line(ValueError("x" * 20), limit=10) == "xxxxxxx..."
    assert isinstance(errors.UserError("m"), ValueError) and not isinstance(errors.Terminated(), Exception)
