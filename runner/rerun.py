"""`python -m runner.rerun`: the stable command name; the command line is runner.cli.rerun."""
from runner.cli.rerun import main

if __name__ == "__main__":
    from runner.cli.common import run

    run(main)
