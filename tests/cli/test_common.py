"""The convention every command line follows (runner.cli.common): one `error:` line and the documented exit codes."""
from __future__ import annotations

import pytest

from runner.cli import common
from runner.errors import Terminated, UserError


def raising(e: BaseException):
    def work() -> int:
        raise e

    return work


def test_guarded_returns_the_works_code() -> None:
    assert common.guarded(lambda: 0, 2) == 0 and common.guarded(lambda: 3, 2) == 3


@pytest.mark.parametrize("e, code, err", [
    (UserError("dataset.path=x.csv: no such file"), 2, "error: dataset.path=x.csv: no such file\n"),
    (KeyboardInterrupt(), 130, "interrupted: nothing written\n"),
    (Terminated("signal 15"), 143, "interrupted: nothing written\n"),
])
def test_a_mistake_or_an_interruption_is_one_line_and_its_code(e, code: int, err: str, capsys) -> None:
    assert common.guarded(raising(e), 2, interrupted="interrupted: nothing written") == code
    assert capsys.readouterr() == ("", err)


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        common.guarded(raising(ZeroDivisionError("bug")), 2)


def test_the_exit_codes_are_the_shells() -> None:
    assert (common.EXIT_OK, common.EXIT_INTERRUPTED, common.EXIT_TERMINATED) == (0, 130, 143)
