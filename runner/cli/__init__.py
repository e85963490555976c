"""Command lines: argument parsing and exit codes only; the work is done by the stage packages."""
