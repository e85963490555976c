"""Stage 1, training: data -> features -> sampler -> model -> scores, plots and reference profile.

Nothing here writes to MLflow; every module in this package runs inside a job, so each one is
part of a job's code version (runner.track.identity).
"""
