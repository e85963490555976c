"""`python -m runner.predict`: the stable command name; the command line is runner.cli.predict."""
from runner.cli.predict import main

if __name__ == "__main__":
    from runner.cli.common import run

    run(main)
