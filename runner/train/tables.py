"""A user's table (CSV, or Parquet by its suffix) as features and a label column; every failure is one line."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runner.config.schema import launch_dir
from runner.errors import UserError
from runner.train.checks import plain

log = logging.getLogger(__name__)

TARGET = "target"  # the label's column name in every frame the runner logs
RESERVED = {"kind", "name", "test_size", "random_state"}  # dataset keys that are not loader arguments

TABLE_KEYS = ("path", "target", "drop")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _resolve_path(text: str) -> Path:
    """A relative path is relative to the directory the command was launched from, not the job's."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else launch_dir() / path


def _read(text: str) -> pd.DataFrame:
    """The whole file as a DataFrame (CSV, or Parquet by its suffix); every failure is one line."""
    path = _resolve_path(text)
    key = f"dataset.path={text}"
    if not path.is_file():
        raise UserError(f"{key}: no such file ({path}); a relative path is relative to the launch directory")
    if path.stat().st_size == 0:
        raise UserError(f"{key}: the file is empty")
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise UserError(f"{key}: reading Parquet needs pyarrow: pip install 'runner[parquet]'") from None
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except UserError:
        raise
    except pd.errors.EmptyDataError:
        raise UserError(f"{key}: the file is empty (no columns)") from None
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise UserError(f"{key}: cannot read it as {'Parquet' if path.suffix.lower() in PARQUET_SUFFIXES else 'CSV'}: "
                        f"{' '.join(str(e).split())}") from None


def table(params: Mapping[str, Any], random_state: int | None,
          imputes: bool = False) -> tuple[pd.DataFrame, pd.Series, int]:
    """A user's CSV or Parquet file: the `target` column is the label, `drop` columns are ignored.

    Numeric and boolean columns are kept as they are, text columns stay text (the pipeline's
    `features` step encodes them), so the logged model takes the file's raw rows. Rows whose label
    is empty are dropped (their count is returned); empty feature cells are refused unless the
    pipeline imputes them (`imputes`). Each row keeps its position in the file as its index.
    """
    unknown = sorted(set(params) - set(TABLE_KEYS))
    if unknown:
        raise UserError(f"dataset.{unknown[0]}: unknown key for dataset=csv; allowed: {', '.join(TABLE_KEYS)}, "
                        f"{', '.join(sorted(RESERVED - {'kind'}))}")
    text, target = str(params.get("path") or ""), params.get("target")
    if not text:
        raise UserError("dataset.path is required with dataset=csv (dataset.path=FILE dataset.target=COLUMN)")
    if not target:
        raise UserError("dataset.target is required with dataset=csv: the name of the label column")
    df = _read(text).reset_index(drop=True)
    if df.empty:
        raise UserError(f"dataset.path={text}: the file has no rows (columns: {', '.join(map(str, df.columns))})")
    target = str(target)
    if target not in df.columns:
        raise UserError(f"dataset.target={target}: no such column in {text}; columns: {', '.join(map(str, df.columns))}")
    drop = [str(c) for c in (params.get("drop") or [])]
    absent = [c for c in drop if c not in df.columns]
    if absent:
        raise UserError(f"dataset.drop={drop}: no such column {absent[0]!r} in {text}; columns: {', '.join(map(str, df.columns))}")
    X = df.drop(columns=[target, *drop])
    y = df[target]
    if X.shape[1] == 0:
        raise UserError(f"dataset.path={text}: no feature columns besides the target {target!r}")
    if TARGET in X.columns:
        raise UserError(f"dataset.path={text}: a feature column is named {TARGET!r}, which runner reserves for the "
                        f"label; rename it or add it to dataset.drop")
    labelled = y.notna() & (y.astype(str).str.strip() != "")
    dropped = int((~labelled).sum())
    if dropped:
        log.warning("dataset.path=%s: dropped %d rows with an empty %s (of %d)", text, dropped, target, len(y))
        X, y = X[labelled], y[labelled]
    missing = {str(c): int(n) for c, n in X.isna().sum().items() if n}
    if missing and not imputes:
        listed = ", ".join(f"{c} ({n} rows)" for c, n in missing.items())
        raise UserError(f"dataset.path={text}: missing values in {listed}; use preprocess=standard (imputation), "
                        "fill or drop them first, or list a column in dataset.drop")
    for column, dtype in X.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            X[column] = X[column].astype(str)
        elif not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
                  or pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            raise UserError(f"dataset.path={text}: column {column!r} has type {dtype}; "
                            "only numbers, booleans and text are supported (convert it, or list it in dataset.drop)")
    if pd.api.types.is_float_dtype(y.dtype):
        if not np.all(np.mod(y.to_numpy(), 1) == 0):
            raise UserError(f"dataset.target={target}: has non-integer numbers (e.g. {y.iloc[0]!r}); "
                            "runner trains classifiers: the target must hold class labels")
        y = y.astype(np.int64)
    if y.nunique() < 2:
        raise UserError(f"dataset.target={target}: a single class ({plain(y.iloc[0])!r}); "
                        "a classifier needs two or more")
    X.columns = [str(c) for c in X.columns]
    return X, y.rename(TARGET), dropped
