"""`python -m runner.monitor`: the stable command name; the command line is runner.cli.monitor."""
from runner.cli.monitor import main

if __name__ == "__main__":
    from runner.cli.common import run

    run(main)
