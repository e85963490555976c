"""`python -m runner.review`: the stable command name; the command line is runner.cli.review."""
from runner.cli.review import main

if __name__ == "__main__":
    from runner.cli.common import run

    run(main)
