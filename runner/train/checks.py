"""Is this data usable for this job: dataset parameters before loading, rows before splitting, the
sampler and model against the loaded data. The one owner of every "the data cannot do that" message.

Each failure is a `UserError` naming the key, the bad value and what is allowed.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd
from omegaconf import DictConfig

from runner.config.schema import PROBA_METRICS
from runner.errors import UserError

if TYPE_CHECKING:
    from runner.train.data import Split


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value a user reads (0, not np.int64(0))."""
    return value.item() if hasattr(value, "item") else value


def require(cfg: Any) -> None:
    """Every mandatory value (`???`, e.g. dataset.path of dataset=csv) is given."""
    from omegaconf import OmegaConf

    for key in cfg:
        if OmegaConf.is_missing(cfg, key) if isinstance(cfg, DictConfig) else cfg[key] == "???":
            raise UserError(f"dataset.{key} is required with dataset={cfg.get('kind')} "
                            "(e.g. dataset=csv dataset.path=FILE dataset.target=COLUMN)")


def _number(key: str, value: Any, kind: type, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> None:
    ok_type = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float:
        ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
    lo_ok = ok_type and (value > low if low_open else value >= low)
    hi_ok = ok_type and (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        what = "an integer" if kind is int else "a number"
        raise UserError(f"{key}={value!r}: must be {what} in {lo}{low}, {high}{hi}")


def dataset_params(ds: Any) -> None:
    """Dataset parameters the generators would accept but that make no sense, or fail obscurely."""
    require(ds)
    _number("dataset.test_size", ds.get("test_size"), float, 0, 1, low_open=True, high_open=True)
    if ds.get("kind") != "synthetic":
        return
    _number("dataset.n_samples", ds.n_samples, int, 1, float("inf"))
    _number("dataset.n_features", ds.n_features, int, 1, float("inf"))
    n_classes = ds.get("n_classes", 2)
    _number("dataset.n_classes", n_classes, int, 2, float("inf"))
    weights = ds.get("weights")
    if weights is not None:
        w = list(weights)
        if len(w) not in (n_classes, n_classes - 1) or any(not isinstance(x, (int, float)) or x < 0 for x in w):
            raise UserError(
                f"dataset.weights={w}: must be {n_classes} (or {n_classes - 1}) non-negative class proportions"
            )
        if sum(w) > 1 + 1e-9 or (len(w) == n_classes and abs(sum(w) - 1) > 1e-6):
            raise UserError(f"dataset.weights={w}: class proportions must sum to 1 (they sum to {sum(w):g})")
    full = _class_weights(weights, n_classes)
    if min(full) <= 0:
        empty = [i for i, x in enumerate(full) if x <= 0]
        raise UserError(
            f"dataset.weights={list(weights)}: class {empty[0]} would get no rows (a single-class dataset); "
            "every class needs a proportion > 0"
        )
    least = minimum_samples(full, ds.get("test_size"))
    if ds.n_samples < least:
        raise UserError(
            f"dataset.n_samples={ds.n_samples}: too small to split and stratify; with weights "
            f"{[round(x, 4) for x in full]} and test_size={ds.get('test_size')} it must be at least {least} "
            "(every class needs 2 rows, each split one row per class)"
        )
    _number("dataset.flip_y", ds.get("flip_y", 0.0), float, 0, 1)


def _class_weights(weights: Any, n_classes: int) -> list[float]:
    """All class proportions, as make_classification completes them."""
    if weights is None:
        return [1.0 / n_classes] * n_classes
    w = [float(x) for x in weights]
    return w + [1.0 - sum(w)] if len(w) == n_classes - 1 else w


def minimum_samples(weights: list[float], test_size: float, cap: int = 10_000_000) -> int:
    """The fewest rows for which every class gets 2 rows and both splits one row per class (class counts
    as make_classification makes them)."""
    k = len(weights)
    n = max(2 * k, math.ceil(2 / min(weights)) if min(weights) > 0 else cap)
    while n < cap:
        counts = [int(n * w) for w in weights]
        for i in range(n - sum(counts)):
            counts[i % k] += 1
        if _both_sides(counts, test_size):
            return n
        n += 1
    return cap


def _both_sides(counts: list[int], test_size: float) -> bool:
    """Whether a stratified train_test_split of these class counts puts every class in both splits, whatever
    its random_state: sklearn draws the training rows per class by `_approximate_mode` (the floor of each
    class's share, the rest to the largest fractions, ties broken at random); the held-out rows are the rest."""
    n = sum(counts)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if min(counts) < 2 or n_test < len(counts) or n_train < len(counts):
        return False
    shares = [c * n_train / n for c in counts]
    low = [math.floor(x) for x in shares]
    high = low[:]
    need = n_train - sum(low)
    fractions = [x - f for x, f in zip(shares, low, strict=True)]
    for value in sorted(set(fractions), reverse=True):
        if need <= 0:
            break
        group = [i for i, f in enumerate(fractions) if f == value]
        for i in group:
            high[i] += 1
            if len(group) <= need:
                low[i] += 1
        need -= min(len(group), need)
    return all(lo >= 1 and c - hi >= 1 for lo, hi, c in zip(low, high, counts, strict=True))


def splittable(y: pd.Series, test_size: float) -> None:
    """Enough rows of every class for a stratified split: 2 per class, one per class on each side."""
    counts = y.value_counts()
    if len(counts) < 2:
        raise UserError(f"dataset: the target has a single class ({plain(counts.index[0])!r}); "
                        "a classifier needs two or more")
    if not _both_sides([int(c) for c in counts], test_size):
        shown = {plain(k): int(v) for k, v in counts.items()}
        raise UserError(
            f"dataset: {len(y)} rows (class counts {shown}) are too few to split and stratify with "
            f"test_size={test_size}: every class needs 2 rows, each split one row per class"
        )


def against_data(cfg: DictConfig, split: Split, sampler: Any, model: Any) -> None:
    """Checks that need the data: enough minority samples for SMOTE, solvers that fit the task."""
    if not split.binary and cfg.optimized_metric in PROBA_METRICS[1:]:
        raise UserError(
            f"optimized_metric={cfg.optimized_metric}: only defined for binary data; "
            f"this dataset has {split.n_classes} classes"
        )
    if split.y_train.nunique() < 2:
        raise UserError("dataset: the training split has a single class; use more samples or other weights")
    if not split.binary and cfg.get("threshold", {}).get("kind", "none") == "tuned":
        raise UserError(f"threshold=tuned: a decision threshold is for binary data; this dataset has "
                        f"{split.n_classes} classes (use threshold=none)")
    smallest_class = int(split.y_train.value_counts().min())
    for group in ("calibration", "threshold"):
        node = cfg.get(group, {})
        if node.get("method", node.get("kind", "none")) != "none" and smallest_class < int(node.get("folds", 5)):
            raise UserError(f"{group}.folds={node.get('folds')}: the smallest class has {smallest_class} training rows, "
                            f"fewer than the folds of {group}'s internal CV; use fewer folds or more data")
    if not split.binary and getattr(model, "solver", None) == "liblinear":
        raise UserError(
            f"model.solver=liblinear: refuses multiclass data ({split.n_classes} classes); "
            "use model.solver=lbfgs (the default of model=logreg)"
        )
    need = minority_neighbours(sampler)
    if need is not None:
        key, k = need
        smallest = int(split.y_train.value_counts().min())
        if smallest <= k:
            raise UserError(
                f"sampler ({type(sampler).__name__}): the smallest class has {smallest} training rows; "
                f"{'ADASYN' if key == 'n_neighbors' else 'SMOTE'} needs more than {key}={k} to find neighbours among "
                "them; use more data, other "
                f"dataset.weights, a smaller sampler.{key}, or a sampler without neighbours (random-over, random-under)"
            )


def minority_neighbours(sampler: Any) -> tuple[str, int] | None:
    """(argument, k) of the neighbour search a sampler runs within each minority class, if it runs one.

    SMOTE, BorderlineSMOTE: `k_neighbors`; ADASYN: `n_neighbors`; SMOTETomek and SMOTEENN: their SMOTE's
    (a default SMOTE when none is given). Random samplers need no neighbours.
    """
    if sampler is None:
        return None
    if hasattr(sampler, "smote"):  # SMOTETomek, SMOTEENN
        from imblearn.over_sampling import SMOTE

        return minority_neighbours(sampler.smote if sampler.smote is not None else SMOTE())
    for key in ("k_neighbors", "n_neighbors"):
        if hasattr(sampler, key):
            k = getattr(sampler, key)
            return key, int(k if isinstance(k, int) else getattr(k, "n_neighbors", 5))
    return None
