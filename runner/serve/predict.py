"""Batch prediction with a logged or registered model: rows in, rows + class + probabilities out.

`python -m runner.predict` (runner.cli.predict) is its command line.

`--model` takes any MLflow model URI (`models:/<name>@<alias>`, `models:/<name>/<version>`,
`models:/m-<id>`, `runs:/<run id>/model`, a local folder) or a bare run id. The input (CSV or
Parquet) is checked against the model's signature here, before any prediction: every signature
column present, no other column, a number in every numeric cell (integers are fine for float
features). The output (CSV or Parquet, by its suffix) is written to a temporary file beside the
target and renamed at the end, so a failure leaves no partial file.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import UserError, exception_line
from runner.track import names
from runner.track.models import IMPUTES
from runner.train.evaluate import PROBA_PREFIX

log = logging.getLogger(__name__)

PREDICTION = "prediction"
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
NUMERIC = ("double", "float", "long", "integer")
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class Loaded:
    """The fitted pipeline (sklearn flavor, for probabilities) and the columns it expects."""

    uri: str
    model: Any
    columns: list[tuple[str, str]]  # (name, MLflow type) from the signature; "any": a number, empty allowed
    imputes: bool = False  # the model fills empty cells (preprocess=standard|robust)

    @property
    def classes(self) -> list[Any]:
        return list(self.model.classes_)


def resolve_model_uri(model: str) -> str:
    """A bare run id -> the model that run logged (its `runner.model_uri` tag); anything else as given."""
    if not RUN_ID.match(model) or Path(model).exists():
        return model
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        run = mlflow.MlflowClient().get_run(model)
    except MlflowException as e:
        raise UserError(f"--model {model}: no run with this id in {mlflow.get_tracking_uri()} ({e.error_code})") from None
    return str(run.data.tags.get(names.MODEL_URI) or f"runs:/{model}/{names.MODEL_NAME}")


def load(model: str) -> Loaded:
    """Download the model once; read its signature; load it with the sklearn flavor."""
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    uri = resolve_model_uri(model)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
        meta = Model.load(local)
    except (MlflowException, OSError) as e:
        raise UserError(f"--model {model}: cannot load it from {mlflow.get_tracking_uri()}: {exception_line(e)}") from None
    if "sklearn" not in meta.flavors:
        raise UserError(f"--model {model}: not a scikit-learn model (flavors: {', '.join(meta.flavors)})")
    if meta.signature is None or meta.signature.inputs is None or not meta.signature.inputs.has_input_names():
        raise UserError(f"--model {model}: the model has no input signature with column names to check rows against")
    columns = [(spec.name, spec.type.name if hasattr(spec.type, "name") else str(spec.type).lower())
               for spec in meta.signature.inputs.inputs]
    imputes = bool((meta.metadata or {}).get(IMPUTES, False))
    fitted = mlflow.sklearn.load_model(local)
    if not hasattr(fitted, "predict_proba"):
        raise UserError(f"--model {model}: the model has no predict_proba")
    return Loaded(uri, fitted, columns, imputes)


def input_format(path: Path, flag: str) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{flag} {path}: unknown file type {path.suffix!r}; allowed: .csv, .parquet")
    return fmt


def count_rows(path: Path, fmt: str) -> int | None:
    """Rows in the input (for the progress bar): Parquet metadata, or the CSV's lines less the header."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        with open(path, "rb") as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except Exception:  # unreadable: read_chunks says why
        return None


def read_chunks(path: Path, fmt: str, chunk_size: int) -> Iterator[Any]:
    """The input as DataFrames of at most `chunk_size` rows, cells as read (no type coercion yet)."""
    import pandas as pd

    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            source = pq.ParquetFile(path)
        except Exception as e:
            raise UserError(f"--input {path}: not a readable Parquet file: {e}") from None
        for batch in source.iter_batches(batch_size=chunk_size):
            yield batch.to_pandas()
        return
    try:
        # numbers parse as numbers; an empty cell or "NA" stays text, so it is reported, never guessed
        reader = pd.read_csv(path, chunksize=chunk_size, keep_default_na=False)
        yield from reader
    except pd.errors.EmptyDataError:
        raise UserError(f"--input {path}: the file is empty (a header row with the column names is needed)") from None
    except pd.errors.ParserError as e:
        raise UserError(f"--input {path}: not a readable CSV file: {' '.join(str(e).split())}") from None


def check_columns(present: Sequence[str], expected: Sequence[str], path: Path) -> None:
    """The input's columns are exactly the signature's (any order)."""
    missing = [c for c in expected if c not in present]
    extra = [c for c in present if c not in expected]
    if missing:
        raise UserError(f"--input {path}: missing column(s) {', '.join(missing)}; the model expects {', '.join(expected)}")
    if extra:
        raise UserError(f"--input {path}: column(s) {', '.join(map(str, extra))} not in the model's signature "
                        f"(expected exactly {', '.join(expected)}); drop them")


def features(chunk: Any, loaded: Loaded, first_row: int, path: Path) -> Any:
    """The chunk as the model's typed feature frame, or a UserError naming the first bad cell."""
    import numpy as np
    import pandas as pd

    out = {}
    for name, kind in loaded.columns:
        col = chunk[name]
        if kind in NUMERIC or kind == "any":
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                values = col.astype("float64")
            else:
                values = pd.to_numeric(col.astype(str).str.strip(), errors="coerce").astype("float64")
            empty = col.isna() | (col.astype(str).str.strip() == "")
            bad = (values.isna() & ~(empty & loaded.imputes)) | (values.notna() & ~np.isfinite(values))
            if kind in ("long", "integer"):
                bad |= values.notna() & (values != np.round(values))
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                cell = col.iloc[i]
                what = "an empty cell" if (cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell).strip() == "") \
                    else f"{cell!r}"
                need = "an integer" if kind in ("long", "integer") else "a number"
                raise UserError(f"--input {path}: row {first_row + i + 1}, column {name}: {what} is not {need} "
                                f"(the model's signature wants {kind})")
            out[name] = values
        elif kind == "boolean":
            mapped = col.astype(str).str.strip().str.lower().map({"true": True, "false": False, "1": True, "0": False})
            if mapped.isna().any():
                i = int(np.flatnonzero(mapped.isna().to_numpy())[0])
                raise UserError(f"--input {path}: row {first_row + i + 1}, column {name}: {col.iloc[i]!r} is not true/false")
            out[name] = mapped.astype(bool)
        else:
            text = col.astype(str)
            if loaded.imputes:  # an empty cell is a missing value the model fills, not an empty string
                text = text.where(~(col.isna() | (text.str.strip() == "")), np.nan)
            out[name] = text
    return pd.DataFrame(out, index=chunk.index)


def predict_chunk(loaded: Loaded, X: Any) -> tuple[Any, Any]:
    """Labels from `predict` (what pyfunc returns) and probabilities from `predict_proba`."""
    return loaded.model.predict(X), loaded.model.predict_proba(X)


class Writer:
    """Appends chunks to a temporary file beside the output; `commit` renames it into place.

    Both formats are written by pyarrow (its CSV writer is ~10x faster than pandas' and prints floats
    in their shortest round-trip form).
    """

    def __init__(self, output: Path, fmt: str) -> None:
        self.output, self.fmt = output, fmt
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
        os.close(fd)
        self.tmp = Path(name)
        self._schema: Any = None
        self._sink: Any = None  # the open binary file (CSV) or ParquetWriter
        self._rows = 0

    def write(self, frame: Any) -> None:
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._schema is None:
            self._schema = table.schema
            if self.fmt == "csv":
                import csv
                import io

                header = io.StringIO()
                csv.writer(header, lineterminator="\n").writerow([str(c) for c in frame.columns])
                self._sink = open(self.tmp, "wb")  # noqa: SIM115 - kept open across write() calls, closed in _close()
                self._sink.write(header.getvalue().encode())
            else:
                import pyarrow.parquet as pq

                self._sink = pq.ParquetWriter(self.tmp, self._schema)
        table = table.cast(self._schema)
        if self.fmt == "csv":
            import pyarrow.csv as pc

            pc.write_csv(table, self._sink, pc.WriteOptions(include_header=False, quoting_style="needed"))
        else:
            self._sink.write_table(table)
        self._rows += len(frame)

    def _close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def commit(self, empty: Any) -> None:
        if self._schema is None:  # no rows: still a file with the columns
            self.write(empty)
        self._close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp made it private; the output is an ordinary file
        os.replace(self.tmp, self.output)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._close()
        self.tmp.unlink(missing_ok=True)


def run(model: str, input_path: Path, output: Path, chunk_size: int = 50_000, progress: bool | None = None) -> int:
    """Predict every row of `input_path` into `output`; returns the number of rows written."""
    import pandas as pd
    from tqdm import tqdm

    in_fmt = input_format(input_path, "--input")
    out_fmt = input_format(output, "--output")
    if not input_path.is_file():
        raise UserError(f"--input {input_path}: no such file")
    if chunk_size < 1:
        raise UserError(f"--chunk-size={chunk_size}: must be an integer >= 1")
    loaded = load(model)
    expected = [name for name, _ in loaded.columns]
    proba_cols = [f"{PROBA_PREFIX}{c}" for c in loaded.classes]
    total = count_rows(input_path, in_fmt)
    show = progress if progress is not None else (total or 0) > chunk_size
    writer = Writer(output, out_fmt)
    done = 0
    columns: list[str] | None = None
    try:
        with tqdm(total=total, unit="rows", desc="predict", disable=not show, leave=False, file=sys.stderr) as bar:
            for chunk in read_chunks(input_path, in_fmt, chunk_size):
                if columns is None:
                    columns = [str(c) for c in chunk.columns]
                    check_columns(columns, expected, input_path)
                X = features(chunk, loaded, done, input_path)
                labels, proba = predict_chunk(loaded, X[expected])
                result = chunk.copy()
                result[expected] = X[expected]  # the checked values (integers as floats)
                result[PREDICTION] = labels
                result[proba_cols] = proba
                writer.write(result)
                done += len(chunk)
                bar.update(len(chunk))
        if columns is None:  # a Parquet file without rows still has a schema
            import pyarrow.parquet as pq

            columns = list(pq.ParquetFile(input_path).schema_arrow.names) if in_fmt == "parquet" else []
            check_columns(columns, expected, input_path)
        writer.commit(pd.DataFrame(columns=[*columns, PREDICTION, *proba_cols]))
    except BaseException:
        writer.discard()
        raise
    return done
