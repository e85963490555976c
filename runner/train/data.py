"""Datasets: config -> features and target, then a stratified held-out split.

Loaders are looked up by `dataset.kind`; the keys besides the reserved ones keep the names of
the scikit-learn function they feed (`n_samples`, `weights`, ...).
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from runner.errors import UserError
from runner.train import checks
from runner.train.tables import RESERVED, TARGET, table

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Split:
    """The held-out split a job trains and evaluates on."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    digest: str  # hash of the full dataset (every row), before splitting
    dropped: int = 0  # rows left out before splitting: their label was empty

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


LOADERS: dict[str, Callable[..., Any]] = {"synthetic": synthetic, "iris": iris, "csv": table}


def digest(X: pd.DataFrame, y: pd.Series) -> str:
    """A hash of every row and column name (MLflow's own dataset digest reads only 10,000 rows)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(list(X.columns)).encode())
    h.update(repr([str(t) for t in X.dtypes]).encode())
    h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(y, index=False).to_numpy().tobytes())
    return h.hexdigest()


def load(cfg: Mapping[str, Any], imputes: bool = False) -> tuple[pd.DataFrame, pd.Series]:
    """The full dataset the config describes (rows with an empty label left out).

    `imputes`: the pipeline fills missing values, so a user's file may have empty feature cells.
    """
    X, y, _ = load_counting(cfg, imputes)
    return X, y


def load_counting(cfg: Mapping[str, Any], imputes: bool = False) -> tuple[pd.DataFrame, pd.Series, int]:
    """`load`, and how many rows with an empty label were left out."""
    kind = cfg.get("kind")
    if kind not in LOADERS:
        raise UserError(f"dataset.kind={kind!r} is not known; allowed: {', '.join(sorted(LOADERS))}")
    checks.dataset_params(cfg)
    params = {k: v for k, v in cfg.items() if k not in RESERVED}
    if kind == "csv":
        return table(params, cfg.get("random_state"), imputes=imputes)
    X, y = LOADERS[kind](params, cfg.get("random_state"))
    return X, y, 0


def split(X: pd.DataFrame, y: pd.Series, test_size: float, random_state: int | None) -> Split:
    """Stratified train/test split; too few rows to stratify is the user's mistake, said plainly."""
    from sklearn.model_selection import train_test_split

    checks.splittable(y, test_size)
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, stratify=y, random_state=random_state
        )
    except ValueError as e:
        raise UserError(
            f"dataset: cannot make a stratified split of {len(y)} rows with test_size={test_size} "
            f"(class counts {y.value_counts().to_dict()}): {e}"
        ) from None
    return Split(X_train, X_test, y_train, y_test, digest(X, y))


def load_split(cfg: Mapping[str, Any], preprocess: str = "none") -> Split:
    """config -> Split: the one way every command gets a job's data (`preprocess`: the job's option, which
    says whether empty feature cells are imputed, so allowed)."""
    from dataclasses import replace

    from runner.train.features import imputes

    X, y, dropped = load_counting(cfg, imputes(preprocess))
    return replace(split(X, y, cfg.get("test_size", 0.3), cfg.get("random_state")), dropped=dropped)
