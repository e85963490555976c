"""`python -m runner.predict --model URI --input rows.csv --output predictions.csv`: batch prediction.

    python -m runner.predict --model models:/iris-classifier@champion --input rows.csv --output predictions.csv

`--model` takes any MLflow model URI (`models:/<name>@<alias>`, `models:/<name>/<version>`,
`models:/m-<id>`, `runs:/<run id>/model`, a local folder) or a bare run id. Exit codes: 0 written;
1 a user mistake (one line, no output file); 130 interrupted (no output file).
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from runner.cli.common import guarded
from runner.errors import UserError

EXIT_ERROR = 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m runner.predict",
                                description="Batch prediction with a logged or registered model.")
    p.add_argument("--model", required=True,
                   help="models:/<name>@<alias>, models:/<name>/<version>, a run id, or any MLflow model URI")
    p.add_argument("--input", required=True, type=Path, help="rows to predict (.csv or .parquet)")
    p.add_argument("--output", required=True, type=Path, help="where to write rows + predictions (.csv or .parquet)")
    p.add_argument("--chunk-size", type=int, default=50_000, help="rows predicted at a time (default 50000)")
    p.add_argument("--tracking-uri", default=None,
                   help="the MLflow store (default: $MLFLOW_TRACKING_URI, else outputs/mlflow.db here)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: 0 on success; one line on stderr and 1 for a user mistake."""
    import mlflow

    from runner.serve.predict import run
    from runner.track import store

    args = parse_args(argv)
    uri = store.resolve_uri(args.tracking_uri)
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None

    def work() -> int:
        mlflow.set_tracking_uri(uri)  # the registry follows it (models:/ URIs)
        db = store.sqlite_path(uri)
        if db is not None and not db.exists() and not Path(args.model).exists():
            raise UserError(f"no MLflow store at {db}; point MLFLOW_TRACKING_URI (or --tracking-uri) at the runs' store")
        rows = run(args.model, args.input, args.output, args.chunk_size)
        print(f"wrote {rows} rows with predictions from {args.model} to {args.output}")
        return 0

    try:
        return guarded(work, EXIT_ERROR, interrupted="interrupted: no output written")
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets it; main() may run in-process

