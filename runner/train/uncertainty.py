"""Uncertainty of held-out scores: bootstrap intervals, paired comparisons and corrected cross-validation t-tests.

A point estimate on a few hundred held-out rows can move by several points on another draw of those rows, so a
leaderboard gap means little without its spread. Two sources of evidence are covered here:

* the held-out split: stratified bootstrap resamples of its rows (every resample keeps the class counts), with every
  metric of ``runner.train.evaluate.scores`` recomputed on every resample in a few matrix products instead of one
  scikit-learn call per resample, and with scikit-learn's conventions reproduced exactly (zero_division=0, macro
  averages over the labels present, ties in scores);
* cross-validation folds: the Nadeau & Bengio corrected resampled t-test, whose variance term accounts for the
  overlap of training sets between folds that makes the naive paired t-test far too confident.

Pure numpy/scipy: no MLflow, no Hydra.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CorrectedT",
    "PairedResult",
    "bootstrap_intervals",
    "corrected_interval",
    "corrected_resampled_t",
    "holm",
    "metric_samples",
    "paired_bootstrap",
    "row_weights",
    "stratified_indices",
]

_LABEL_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "f1_macro")
_PROBA_METRICS = ("roc_auc", "average_precision")
_CALIBRATION_METRICS = ("brier_score", "log_loss", "calibration_error")  # binary only
_BINS = 10  # calibration_error's equal-width bins (runner.train.evaluate.calibration_error)

# Floats one chunk of resamples may hold at once (weights copy, counts and curve temporaries): ~80 MB.
_MAX_CHUNK_FLOATS = 10_000_000
# Index draws are generated in blocks of at most this many entries, so a large held-out set never materialises the
# whole (n_resamples, n) matrix inside bootstrap_intervals / paired_bootstrap. Changing it changes the draws.
_INDEX_BLOCK_ENTRIES = 2_000_000


@dataclass(frozen=True)
class PairedResult:
    """Paired bootstrap comparison of model b against model a on one metric (positive delta: b is better)."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n_rows: int
    n_resamples: int


@dataclass(frozen=True)
class CorrectedT:
    """Corrected resampled t-test of per-fold differences (Nadeau & Bengio, as given by Bouckaert & Frank)."""

    mean: float
    ci_low: float
    ci_high: float
    t: float
    p_value_one_sided: float
    p_value_two_sided: float


@dataclass(frozen=True)
class _Design:
    """Sparse one-hot layout of the held-out rows: weights @ onehot gives every count the metrics need.

    Columns [0, len(pairs)) count the (true, pred) pairs that occur, pairs[j] = true * k + pred. Each entry
    (start, g) of ``curves`` owns columns [start, start + g) (positives per distinct score, highest score first)
    and [start + g, start + 2g) (negatives per distinct score) for one probability column.
    """

    n_rows: int
    k: int
    binary: bool
    metrics: tuple[str, ...]
    pairs: np.ndarray
    curves: tuple[tuple[int, int], ...]
    onehot_t: Any  # scipy.sparse CSR array (n_columns, n_rows)
    chunk_rows: int
    calibration: int = -1  # first column of the calibration block (binary data), -1 when not asked for


def stratified_indices(y_true: Any, n_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap row indices, (n_resamples, n): each row resamples every true class with replacement at its own size.

    Column i of every resample is drawn from the class of row i, so ``y_true[idx]`` equals ``y_true`` and each
    resample keeps the class counts (and every class) of the held-out set.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    members = _strata(y_true)
    out = np.empty((n_resamples, sum(m.size for m in members)), dtype=np.intp)
    start = 0
    for draws in _class_draws([m.size for m in members], n_resamples, seed):
        stop = start + draws[0].shape[0]
        for member, drawn in zip(members, draws, strict=True):
            out[start:stop, member] = member[drawn]
        start = stop
    return out


def row_weights(indices: np.ndarray, n: int) -> np.ndarray:
    """Multiplicity matrix (B, n) as float64: how often each original row appears in each resample."""
    idx = np.asarray(indices)
    if idx.ndim != 2:
        raise ValueError(f"indices must be a (n_resamples, n_draws) matrix, got shape {idx.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"indices must lie in [0, {n})")
    n_res = idx.shape[0]
    flat = (idx.astype(np.int64, copy=False) + (np.arange(n_res, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=n_res * n).reshape(n_res, n).astype(np.float64)


def metric_samples(
    y_true: Any,
    y_pred: Any,
    proba: Any,
    classes: Any,
    weights: np.ndarray,
    metrics: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Each metric on each resample given by a row of ``weights`` (B, n), vectorised over resamples.

    A weight is a row multiplicity (zero: the row is absent from that resample), so with integer weights every
    value equals the scikit-learn metric of ``runner.train.evaluate.scores`` on the resampled arrays. metrics=None:
    every metric ``scores`` returns for this data. ``proba`` may be None when only label metrics are asked for.
    """
    design = _design(y_true, y_pred, proba, classes, metrics)
    return _evaluate(design, weights)


def bootstrap_intervals(
    y_true: Any,
    y_pred: Any,
    proba: Any,
    classes: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    metrics: Sequence[str] | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of each metric over stratified resamples of the held-out rows.

    No resample is dropped: degenerate ones score 0 by the zero_division=0 convention of the point estimate. The
    samples are those of ``metric_samples`` on ``row_weights(stratified_indices(y_true, n_resamples, seed))``,
    computed block by block so memory stays bounded.
    """
    _check_confidence(confidence)
    members = _strata(y_true)
    design = _grouped_design(members, y_true, y_pred, proba, classes, metrics)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in design.metrics}
    for weights_t in _stratified_weights_t(members, n_resamples, seed):
        for name, values in _column_metrics(design, weights_t).items():
            parts[name].append(values)
    return {name: _percentile_interval(np.concatenate(chunks), confidence) for name, chunks in parts.items()}


def paired_bootstrap(
    y_true: Any,
    a: tuple[Any, Any],
    b: tuple[Any, Any],
    classes: Any,
    metric: str,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_delta: float = 0.0,
) -> PairedResult:
    """Paired stratified bootstrap of metric(b) - metric(a): both models scored on the same resamples.

    a and b are (y_pred, proba) pairs (proba may be None for label metrics). p_value is the one-sided evidence
    that b beats a by more than min_delta: (1 + #(resampled differences <= min_delta)) / (1 + n_resamples), never 0.
    """
    _check_confidence(confidence)
    if not isinstance(metric, str):
        raise TypeError(f"metric must be one metric name, got {metric!r}")
    members = _strata(y_true)
    design_a = _grouped_design(members, y_true, a[0], a[1], classes, [metric])
    design_b = _grouped_design(members, y_true, b[0], b[1], classes, [metric])
    ones = np.ones((design_a.n_rows, 1))
    delta = float(_column_metrics(design_b, ones)[metric][0] - _column_metrics(design_a, ones)[metric][0])
    parts = []
    for weights_t in _stratified_weights_t(members, n_resamples, seed):
        parts.append(_column_metrics(design_b, weights_t)[metric] - _column_metrics(design_a, weights_t)[metric])
    diffs = np.concatenate(parts)
    low, high = _percentile_interval(diffs, confidence)
    p_value = (1 + int(np.count_nonzero(diffs <= min_delta))) / (1 + n_resamples)
    return PairedResult(delta, low, high, p_value, design_a.n_rows, n_resamples)


def corrected_resampled_t(diffs: Sequence[float], n_train: int, n_test: int, confidence: float = 0.95) -> CorrectedT:
    """Corrected resampled t-test of per-fold differences d_j over r x k-fold CV (J = k * r folds, J - 1 df).

    t = mean(d) / sqrt((1/J + n_test/n_train) * var(d, ddof=1)): the n_test/n_train term inflates the variance for
    the overlap between training sets, which the naive 1/J alone ignores. One-sided p is P(T >= t), evidence that
    the mean difference is > 0. Zero variance: t is +inf / -inf (p 0 / 1), or nan when the mean is 0 too (p 1),
    and the interval collapses to the mean.
    """
    from scipy import stats

    _check_confidence(confidence)
    d = _fold_values(diffs, "diffs")
    mean, se, df = _corrected_se(d, n_train, n_test)
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    if se > 0:
        t = mean / se
        p_one = float(stats.t.sf(t, df))
        p_two = min(1.0, 2 * float(stats.t.sf(abs(t), df)))
    elif mean > 0:
        t, p_one, p_two = math.inf, 0.0, 0.0
    elif mean < 0:
        t, p_one, p_two = -math.inf, 1.0, 0.0
    else:
        t, p_one, p_two = math.nan, 1.0, 1.0
    return CorrectedT(mean, mean - half, mean + half, t, p_one, p_two)


def corrected_interval(
    values: Sequence[float], n_train: int, n_test: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval of one model's mean CV score, corrected variance: mean ± t * sqrt((1/J + n_test/n_train) * var)."""
    from scipy import stats

    _check_confidence(confidence)
    v = _fold_values(values, "values")
    mean, se, df = _corrected_se(v, n_train, n_test)
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    return mean - half, mean + half


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("p_values must be a flat sequence")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p_values must lie in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return [float(x) for x in adjusted]


# ---------------------------------------------------------------------------------------------------- helpers


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def _percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1 - confidence
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _fold_values(values: Sequence[float], name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"{name} needs at least two per-fold values, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} must be finite")
    return v


def _corrected_se(v: np.ndarray, n_train: int, n_test: int) -> tuple[float, float, int]:
    """Mean, corrected standard error sqrt((1/J + n_test/n_train) * var(ddof=1)) and degrees of freedom J - 1."""
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    j = v.size
    # Identical values have variance exactly 0 (np.var can leave rounding noise around a rounded mean).
    var = 0.0 if np.all(v == v[0]) else float(v.var(ddof=1))
    return float(v.mean()), math.sqrt((1 / j + n_test / n_train) * var), j - 1


def _as_1d(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _factorize(values: Any) -> np.ndarray:
    """Integer code of each label: rank among the sorted distinct labels (first-seen order if unsortable)."""
    arr = _as_1d(values, "y_true")
    try:
        _, codes = np.unique(arr, return_inverse=True)
    except TypeError:
        seen: dict[Any, int] = {}
        codes = np.fromiter((seen.setdefault(v, len(seen)) for v in arr.tolist()), dtype=np.intp, count=arr.size)
    return np.asarray(codes, dtype=np.intp).reshape(-1)


def _encode(values: Any, classes: np.ndarray, name: str) -> np.ndarray:
    """Index into ``classes`` of each label; any label type (ints, strings, booleans)."""
    arr = _as_1d(values, name)
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    try:
        distinct, inverse = np.unique(arr, return_inverse=True)
        keys, inverse = distinct.tolist(), np.asarray(inverse).reshape(-1)
    except TypeError:
        keys, inverse = arr.tolist(), np.arange(arr.size)
    unknown = [key for key in keys if key not in lookup]
    if unknown:
        raise ValueError(f"{name} holds labels that are not in classes: {unknown[:5]!r}")
    return np.array([lookup[key] for key in keys], dtype=np.intp)[inverse] if keys else np.empty(0, dtype=np.intp)


def _strata(y_true: Any) -> list[np.ndarray]:
    """Row numbers of each true class, classes in sorted order (first-seen order if unsortable)."""
    codes = _factorize(y_true)
    if codes.size == 0:
        raise ValueError("y_true is empty")
    return [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]


def _class_draws(sizes: Sequence[int], n_resamples: int, seed: int, block: int | None = None
                 ) -> Iterator[list[np.ndarray]]:
    """One RNG stream of stratified draws, in blocks of resamples: per class, (block, n_c) class-local row numbers."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    rows = max(1, (block or _INDEX_BLOCK_ENTRIES) // sum(sizes))
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        yield [rng.integers(0, n_c, size=(size, n_c)) for n_c in sizes]


def _stratified_weights_t(members: list[np.ndarray], n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The resamples of ``stratified_indices`` as transposed multiplicities (n, block), rows grouped by class.

    Row order is np.concatenate(members) (see ``_grouped_design``); the metrics do not depend on row order and the
    counts are exact integers, so the values equal those of ``row_weights(stratified_indices(...))``. They depend
    only on the class sizes, the number of resamples and the seed, so a leaderboard testing a hundred jobs on the
    same held-out rows draws them once (kept, read-only, while they fit in ``_KEPT_ENTRIES``).
    """
    sizes = tuple(int(m.size) for m in members)
    if sum(sizes) * n_resamples <= _KEPT_ENTRIES:
        return iter(_kept_weights_t(sizes, n_resamples, seed, _INDEX_BLOCK_ENTRIES))
    return _weights_t_blocks(sizes, n_resamples, seed, _INDEX_BLOCK_ENTRIES)


_KEPT_ENTRIES = 4_000_000  # rows x resamples of the resample weights kept between calls (~32 MB)


@functools.lru_cache(maxsize=4)
def _kept_weights_t(sizes: tuple[int, ...], n_resamples: int, seed: int, block: int) -> tuple[np.ndarray, ...]:
    blocks = tuple(_weights_t_blocks(sizes, n_resamples, seed, block))
    for weights_t in blocks:
        weights_t.flags.writeable = False
    return blocks


def _weights_t_blocks(sizes: tuple[int, ...], n_resamples: int, seed: int, block: int) -> Iterator[np.ndarray]:
    """The weights of `_stratified_weights_t`, drawn `block` index entries at a time (the draws depend on it)."""
    n = sum(sizes)
    for draws in _class_draws(sizes, n_resamples, seed, block):
        size = draws[0].shape[0]
        weights_t = np.empty((n, size))
        start = 0
        for drawn in draws:
            n_c = drawn.shape[1]
            flat = (drawn + (np.arange(size) * n_c)[:, None]).ravel()
            weights_t[start : start + n_c] = np.bincount(flat, minlength=size * n_c).reshape(size, n_c).T
            start += n_c
        yield weights_t


def _grouped_design(
    members: list[np.ndarray], y_true: Any, y_pred: Any, proba: Any, classes: Any, metrics: Sequence[str] | None
) -> _Design:
    """``_design`` of the held-out rows reordered class by class, the row order of ``_stratified_weights_t``."""
    order = np.concatenate(members)

    def take(values: Any, name: str) -> Any:
        if values is None:
            return None
        arr = np.asarray(values)
        if arr.ndim == 0 or arr.shape[0] != order.size:
            raise ValueError(f"{name} must have one entry per row of y_true ({order.size}), got shape {arr.shape}")
        return arr[order]

    return _design(take(y_true, "y_true"), take(y_pred, "y_pred"), take(proba, "proba"), classes, metrics)


def _metric_names(t: np.ndarray, k: int, metrics: Sequence[str] | None) -> tuple[str, ...]:
    """The metrics to compute: by default those ``scores`` returns for this data; validated otherwise."""
    binary = k == 2
    all_present = np.unique(t).size == k
    defined = list(_LABEL_METRICS)
    if all_present:
        defined += list(_PROBA_METRICS) if binary else ["roc_auc"]
    if binary:
        defined += list(_CALIBRATION_METRICS)
    if metrics is None:
        return tuple(defined)
    if isinstance(metrics, str):
        raise TypeError("metrics must be a sequence of metric names, not a string")
    names = tuple(dict.fromkeys(metrics))
    for name in names:
        if name not in _LABEL_METRICS + _PROBA_METRICS + _CALIBRATION_METRICS:
            raise ValueError(f"unknown metric {name!r}; known: {_LABEL_METRICS + _PROBA_METRICS + _CALIBRATION_METRICS}")
        if name not in defined:
            raise ValueError(f"{name} is not defined here (binary={binary}, every class in y_true={all_present})")
    return names


def _design(y_true: Any, y_pred: Any, proba: Any, classes: Any, metrics: Sequence[str] | None) -> _Design:
    """Validate the held-out arrays and build the sparse one-hot layout the requested metrics need."""
    from scipy import sparse

    classes_arr = np.asarray(classes)
    if classes_arr.ndim != 1 or classes_arr.size < 2:
        raise ValueError(f"classes must list at least two labels, got {classes_arr!r}")
    k = classes_arr.size
    t = _encode(y_true, classes_arr, "y_true")
    p = _encode(y_pred, classes_arr, "y_pred")
    n = t.size
    if n == 0 or p.size != n:
        raise ValueError(f"y_true and y_pred must be non-empty and of one length, got {n} and {p.size}")
    names = _metric_names(t, k, metrics)
    binary = k == 2

    pairs = np.empty(0, dtype=np.intp)
    columns: list[np.ndarray] = []
    n_columns = 0
    if any(name in _LABEL_METRICS for name in names):
        pairs, pair_column = np.unique(t * k + p, return_inverse=True)
        columns.append(np.asarray(pair_column).reshape(-1))
        n_columns = pairs.size
    curves: list[tuple[int, int]] = []
    if any(name in _PROBA_METRICS for name in names):
        if proba is None:
            raise ValueError(f"{[x for x in names if x in _PROBA_METRICS]} need proba")
        scores = np.asarray(proba, dtype=np.float64)
        if scores.shape != (n, k):
            raise ValueError(f"proba must have shape ({n}, {k}) in the order of classes, got {scores.shape}")
        if not np.isfinite(scores).all():
            raise ValueError("proba must be finite")
        for c in [1] if binary else range(k):
            positive = t == (k - 1 if binary else c)
            group, g = _score_groups(scores[:, c])
            columns.append(n_columns + group + np.where(positive, 0, g))
            curves.append((n_columns, g))
            n_columns += 2 * g
    values = [np.ones(n)] * len(columns)
    calibration = -1
    if any(name in _CALIBRATION_METRICS for name in names):
        # Per-row sums the calibration metrics need: brier loss, log loss, and per bin the row count, the
        # positives and the probability sum (the same clipping and binning as scikit-learn's).
        if proba is None:
            raise ValueError(f"{[x for x in names if x in _CALIBRATION_METRICS]} need proba")
        prob = np.asarray(proba, dtype=np.float64)
        positive = (t == 1).astype(np.float64)
        eps = np.finfo(np.float64).eps
        clipped = np.clip(prob, eps, 1 - eps)
        bins = np.searchsorted(np.linspace(0.0, 1.0, _BINS + 1)[1:-1], prob[:, 1])
        calibration = n_columns
        zeros = np.zeros(n, dtype=np.intp)
        block: list[tuple[np.ndarray, np.ndarray]] = [
            (zeros, (prob[:, 1] - positive) ** 2), (zeros + 1, -np.log(clipped[np.arange(n), t])),
            (2 + bins, np.ones(n)), (2 + _BINS + bins, positive), (2 + 2 * _BINS + bins, prob[:, 1]),
        ]
        for offset, value in block:
            columns.append((calibration + offset).astype(np.intp))
            values.append(np.asarray(value, dtype=np.float64))
        n_columns += 2 + 3 * _BINS
    col = np.concatenate(columns)
    row = np.tile(np.arange(n), len(columns))
    onehot_t = sparse.csr_array((np.concatenate(values), (col, row)), shape=(n_columns, n))
    widest = max((g for _, g in curves), default=0)
    per_resample = n + 2 * n_columns + 2 * k * k + 6 * widest
    chunk_rows = max(1, _MAX_CHUNK_FLOATS // per_resample)
    return _Design(n, k, binary, names, pairs, tuple(curves), onehot_t, chunk_rows, calibration)


def _score_groups(score: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each row's score among the distinct scores, highest first (ties share a group, as thresholds do)."""
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    sorted_group = np.concatenate(([0], np.cumsum(ranked[1:] != ranked[:-1])))
    group = np.empty(score.size, dtype=np.intp)
    group[order] = sorted_group
    return group, int(sorted_group[-1]) + 1


def _divide(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """num / den, ``fill`` where den == 0 (scikit-learn's zero_division)."""
    out = np.full(np.broadcast(num, den).shape, fill, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _evaluate(design: _Design, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics for weights (B, n), chunk by chunk of resamples."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != design.n_rows:
        raise ValueError(f"weights must have shape (n_resamples, {design.n_rows}), got {np.shape(weights)}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative")
    out = {name: np.empty(w.shape[0]) for name in design.metrics}
    for start in range(0, w.shape[0], design.chunk_rows):
        stop = min(start + design.chunk_rows, w.shape[0])
        for name, values in _column_metrics(design, np.ascontiguousarray(w[start:stop].T)).items():
            out[name][start:stop] = values
    return out


def _column_metrics(design: _Design, weights_t: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics for transposed weights (n, B): one sparse product per chunk gives every count, (n_columns, chunk)."""
    n_res = weights_t.shape[1]
    if n_res <= design.chunk_rows:
        return _chunk_metrics(design, design.onehot_t @ weights_t)
    out = {name: np.empty(n_res) for name in design.metrics}
    for start in range(0, n_res, design.chunk_rows):
        stop = min(start + design.chunk_rows, n_res)
        counts = design.onehot_t @ np.ascontiguousarray(weights_t[:, start:stop])
        for name, values in _chunk_metrics(design, counts).items():
            out[name][start:stop] = values
    return out


def _chunk_metrics(design: _Design, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every requested metric from the weighted counts of one chunk of resamples, (n_columns, b)."""
    names = set(design.metrics)
    k, b = design.k, counts.shape[1]
    res: dict[str, np.ndarray] = {}
    if names & set(_LABEL_METRICS):
        flat = np.zeros((k * k, b))
        flat[design.pairs] = counts[: design.pairs.size]
        confusion = flat.reshape(k, k, b)  # [true, pred, resample]
        diagonal = np.arange(k)
        tp = confusion[diagonal, diagonal]
        true_sum = confusion.sum(axis=1)
        pred_sum = confusion.sum(axis=0)
        precision = _divide(tp, pred_sum, 0.0)
        recall = _divide(tp, true_sum, 0.0)
        f1 = _divide(2 * tp, true_sum + pred_sum, 0.0)
        # Labels absent from both y_true and y_pred score 0 above, so sums over all k equal sums over the present
        # labels, which is what scikit-learn averages over; balanced accuracy averages over the labels of y_true.
        n_present = np.count_nonzero(true_sum + pred_sum > 0, axis=0)
        res["accuracy"] = _divide(tp.sum(axis=0), true_sum.sum(axis=0), math.nan)
        res["balanced_accuracy"] = _divide(recall.sum(axis=0), np.count_nonzero(true_sum > 0, axis=0), math.nan)
        if design.binary:
            res["precision"], res["recall"], res["f1"] = precision[-1], recall[-1], f1[-1]
        else:
            res["precision"] = _divide(precision.sum(axis=0), n_present, math.nan)
            res["recall"] = _divide(recall.sum(axis=0), n_present, math.nan)
            res["f1"] = _divide(f1.sum(axis=0), n_present, math.nan)
        res["f1_macro"] = _divide(f1.sum(axis=0), n_present, math.nan)
    aucs, aps = [], []
    for start, g in design.curves:
        pos = counts[start : start + g]  # (distinct scores, highest first; b)
        neg = counts[start + g : start + 2 * g]
        tps = np.cumsum(pos, axis=0)
        n_pos = tps[-1]
        if "roc_auc" in names:
            # Trapezoidal ROC area = Mann-Whitney U: positives ranked above each negative, ties counted half.
            above = np.sum(neg * (tps - 0.5 * pos), axis=0)
            aucs.append(_divide(above, n_pos * neg.sum(axis=0), math.nan))
        if "average_precision" in names:
            # sum_k (R_k - R_{k-1}) P_k over distinct thresholds; no positive at all scores 0, as in scikit-learn.
            precision_k = _divide(tps, np.cumsum(pos + neg, axis=0), 0.0)
            aps.append(_divide(np.sum(pos * precision_k, axis=0), n_pos, 0.0))
    if aucs:
        res["roc_auc"] = aucs[0] if len(aucs) == 1 else np.mean(aucs, axis=0)
    if aps:
        res["average_precision"] = aps[0]
    if design.calibration >= 0:
        c = design.calibration
        rows = counts[c + 2 : c + 2 + _BINS].sum(axis=0)
        res["brier_score"] = _divide(counts[c], rows, math.nan)
        res["log_loss"] = _divide(counts[c + 1], rows, math.nan)
        gap = np.abs(counts[c + 2 + _BINS : c + 2 + 2 * _BINS] - counts[c + 2 + 2 * _BINS : c + 2 + 3 * _BINS])
        res["calibration_error"] = _divide(gap.sum(axis=0), rows, math.nan)
    return {name: res[name] for name in design.metrics}
