"""The lighter exit of the entry points: exit codes kept, cyclic garbage still finalised."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    from runner import shutdown

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


def test_exit_code_is_kept_and_cyclic_garbage_is_finalised(tmp_path: Path) -> None:
    for code in (0, 3):
        out = tmp_path / f"out{code}.txt"
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(code)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == code, proc.stderr
        assert out.read_text() == "flushed"


def test_an_exit_raised_inside_main_keeps_its_code_and_message(tmp_path: Path) -> None:
    script = "from runner import shutdown\ndef main():\n    raise SystemExit('error: bad value')\nshutdown.run(main)\n"
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: bad value"
