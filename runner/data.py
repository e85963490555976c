"""Datasets: config -> features and target, then a stratified held-out split.

Loaders are looked up by `dataset.kind`; the keys besides the reserved ones keep the names of
the scikit-learn function they feed (`n_samples`, `weights`, ...).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from runner.errors import UserError

log = logging.getLogger(__name__)

TARGET = "target"
RESERVED = {"kind", "name", "test_size", "random_state"}


@dataclass(frozen=True)
class Split:
    """The held-out split a job trains and evaluates on."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    digest: str  # hash of the full dataset (every row), before splitting

    @property
    def classes(self) -> np.ndarray:
        return np.unique(np.concatenate([self.y_train.to_numpy(), self.y_test.to_numpy()]))

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def binary(self) -> bool:
        return self.n_classes == 2


def synthetic(params: Mapping[str, Any], random_state: int | None) -> tuple[pd.DataFrame, pd.Series]:
    """make_classification with the config's parameters (sklearn's own names)."""
    from sklearn.datasets import make_classification

    try:
        X, y = make_classification(**params, random_state=random_state)
    except (ValueError, TypeError) as e:
        raise UserError(f"dataset: make_classification refused {dict(params)}: {e}") from None
    columns = [f"x{i}" for i in range(X.shape[1])]
    return pd.DataFrame(X, columns=columns), pd.Series(y, name=TARGET)


def iris(params: Mapping[str, Any], random_state: int | None) -> tuple[pd.DataFrame, pd.Series]:
    """scikit-learn's bundled Iris data (no download)."""
    from sklearn.datasets import load_iris

    if params:
        raise UserError(f"dataset=iris takes no parameters besides {sorted(RESERVED)}; got {sorted(params)}")
    bunch = load_iris(as_frame=True)
    X = bunch.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    return X, bunch.target.rename(TARGET)


TABLE_KEYS = ("path", "target", "drop")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _resolve_path(text: str) -> Path:
    """A relative path is relative to the directory the command was launched from, not the job's."""
    from runner import store

    path = Path(text).expanduser()
    return path if path.is_absolute() else store.launch_dir() / path


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


def table(params: Mapping[str, Any], random_state: int | None) -> tuple[pd.DataFrame, pd.Series]:
    """A user's CSV or Parquet file: the `target` column is the label, `drop` columns are ignored.

    Numeric and boolean columns are kept as they are, text columns stay text (the pipeline's
    `features` step one-hot encodes them), so the logged model takes the file's raw rows.
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
    df = _read(text)
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
    missing = {str(c): int(n) for c, n in df[[*X.columns, target]].isna().sum().items() if n}
    if missing:
        listed = ", ".join(f"{c} ({n} rows)" for c, n in missing.items())
        raise UserError(f"dataset.path={text}: missing values in {listed}; fill or drop them first "
                        "(or list a column in dataset.drop)")
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
        raise UserError(f"dataset.target={target}: a single class ({_plain(y.iloc[0])!r}); "
                        "a classifier needs two or more")
    X.columns = [str(c) for c in X.columns]
    return X.reset_index(drop=True), y.rename(TARGET).reset_index(drop=True)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value a user reads (0, not np.int64(0))."""
    return value.item() if hasattr(value, "item") else value


LOADERS: dict[str, Callable[[Mapping[str, Any], int | None], tuple[pd.DataFrame, pd.Series]]] = {
    "synthetic": synthetic,
    "iris": iris,
    "csv": table,
}


def digest(X: pd.DataFrame, y: pd.Series) -> str:
    """A hash of every row and column name (MLflow's own dataset digest reads only 10,000 rows)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(list(X.columns)).encode())
    h.update(repr([str(t) for t in X.dtypes]).encode())
    h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(y, index=False).to_numpy().tobytes())
    return h.hexdigest()


def load(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.Series]:
    """The full dataset the config describes."""
    kind = cfg.get("kind")
    if kind not in LOADERS:
        raise UserError(f"dataset.kind={kind!r} is not known; allowed: {', '.join(sorted(LOADERS))}")
    require(cfg)
    params = {k: v for k, v in cfg.items() if k not in RESERVED}
    return LOADERS[kind](params, cfg.get("random_state"))


def require(cfg: Mapping[str, Any]) -> None:
    """Every mandatory value (`???`, e.g. dataset.path of dataset=csv) is given."""
    from omegaconf import DictConfig, OmegaConf

    for key in cfg.keys():
        if OmegaConf.is_missing(cfg, key) if isinstance(cfg, DictConfig) else cfg[key] == "???":
            raise UserError(f"dataset.{key} is required with dataset={cfg.get('kind')} "
                            "(e.g. dataset=csv dataset.path=FILE dataset.target=COLUMN)")


def split(X: pd.DataFrame, y: pd.Series, test_size: float, random_state: int | None) -> Split:
    """Stratified train/test split; too few rows to stratify is the user's mistake, said plainly."""
    from sklearn.model_selection import train_test_split

    import math

    counts = y.value_counts()
    if len(counts) < 2:
        raise UserError(f"dataset: the target has a single class ({_plain(counts.index[0])!r}); "
                        "a classifier needs two or more")
    n_test = math.ceil(test_size * len(y))
    if counts.min() < 2 or n_test < len(counts) or len(y) - n_test < len(counts):
        shown = {_plain(k): int(v) for k, v in counts.items()}
        raise UserError(
            f"dataset: {len(y)} rows (class counts {shown}) are too few to split and stratify with "
            f"test_size={test_size}: every class needs 2 rows, each split one row per class"
        )
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, stratify=y, random_state=random_state
        )
    except ValueError as e:
        raise UserError(
            f"dataset: cannot make a stratified split of {len(y)} rows with test_size={test_size} "
            f"(class counts {counts.to_dict()}): {e}"
        ) from None
    return Split(X_train, X_test, y_train, y_test, digest(X, y))


def load_split(cfg: Mapping[str, Any]) -> Split:
    """config -> Split: the one way every command gets a job's data."""
    X, y = load(cfg)
    return split(X, y, cfg.get("test_size", 0.3), cfg.get("random_state"))
