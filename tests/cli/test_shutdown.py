"""The lighter exit of the entry points: exit codes kept, cyclic garbage still finalised."""
from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import ROOT
from runner.cli import shutdown

SCRIPT = textwrap.dedent("""
    import sys
    from runner.cli import shutdown

    class Buffered:
        '''A writer in a reference cycle that writes its file only when finalised.'''
        def __init__(self, path):
            self.path, self.me = path, self
        def __del__(self):
            open(self.path, "w").write("flushed")

    def main():
        Buffered(sys.argv[1])  # garbage at once, reachable only through its own cycle
        return int(sys.argv[2])

    shutdown.run(main)
""")


@pytest.mark.slow
def test_exit_code_is_kept_and_cyclic_garbage_is_finalised(tmp_path: Path) -> None:
    for code in (0, 3):
        out = tmp_path / f"out{code}.txt"
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(code)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == code, proc.stderr
        assert out.read_text() == "flushed"


@pytest.mark.slow
def test_an_exit_raised_inside_main_keeps_its_code_and_message(tmp_path: Path) -> None:
    script = "from runner.cli import shutdown\ndef main():\n    raise SystemExit('error: bad value')\nshutdown.run(main)\n"
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: bad value"


class Cycle:
    """Garbage in a reference cycle that records its finalisation."""

    def __init__(self, log: list[str]) -> None:
        self.log, self.me = log, self

    def __del__(self) -> None:
        self.log.append("finalised")


def test_lighten_finalises_cyclic_garbage_then_freezes_the_survivors() -> None:
    log: list[str] = []
    alive = Cycle([])
    gc.unfreeze()
    gc.disable()  # no automatic collection may do the work lighten() is checked for
    try:
        Cycle(log)
        assert log == []
        shutdown.lighten()
        assert log == ["finalised"]
        assert gc.get_freeze_count() > 0 and alive.me is alive
    finally:
        gc.unfreeze()
        gc.enable()


def test_run_exits_with_mains_code_and_lightens_also_when_main_raises() -> None:
    def main() -> int:
        raise KeyError("bug")

    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as exit_:
            shutdown.run(lambda: 3)
        assert exit_.value.code == 3
        gc.unfreeze()
        with pytest.raises(KeyError):
            shutdown.run(main)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
