"""Drift and degradation statistics of a batch against a model's reference profile.

Per feature and for the predicted probabilities: the population stability index (PSI) on the
training deciles and scipy's two-sample Kolmogorov–Smirnov statistic against the profile's quantile
sketch (p-value with the real reference size, Bonferroni-adjusted). With labels: the model's metrics
on the batch (runner.train.evaluate.scores) against the ones logged at training time.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Drift:
    """One monitored column (a feature, a predicted probability or the label)."""

    column: str
    role: str  # feature | prediction | label
    psi: float
    psi_noise: float = math.nan  # the PSI sampling noise alone exceeds with probability `pvalue` (adjusted)
    ks_statistic: float = math.nan
    ks_pvalue: float = math.nan  # Bonferroni-adjusted
    ref_mean: float = math.nan
    cur_mean: float = math.nan
    flagged: bool = False
    sizes: tuple[int, int, int] = (0, 0, 0)  # (bins, reference rows, batch rows) for the PSI noise bound


@dataclass
class Degradation:
    metric: str
    logged: float
    current: float
    watched: bool
    flagged: bool

    @property
    def change(self) -> float:
        return self.current - self.logged


@dataclass
class Result:
    drift: list[Drift]
    metrics: list[Degradation] = field(default_factory=list)
    n_rows: int = 0
    ignored: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[Drift]:
        return [d for d in self.drift if d.flagged]

    @property
    def degraded(self) -> list[Degradation]:
        return [m for m in self.metrics if m.flagged]

    @property
    def status(self) -> str:
        parts = [p for p, on in (("drift", self.drifted), ("degraded", self.degraded)) if on]
        return "+".join(parts) or "ok"


SMOOTHING = 0.5  # pseudo-count per bin (Jeffreys): an empty bin of a small batch is not a huge PSI


def psi(ref_fractions: Any, cur_fractions: Any, n_ref: int, n_cur: int) -> float:
    """Population stability index sum (cur - ref) * ln(cur / ref) on counts smoothed by SMOOTHING.

    Smoothing instead of a tiny floor keeps PSI's noise close to its chi-square approximation,
    which `psi_noise` relies on (measured in benchmarks/profile_cost.py).
    """
    r, c = np.asarray(ref_fractions, dtype=float), np.asarray(cur_fractions, dtype=float)
    r = (r * n_ref + SMOOTHING) / (n_ref + SMOOTHING * len(r))
    c = (c * n_cur + SMOOTHING) / (n_cur + SMOOTHING * len(c))
    return float(np.sum((c - r) * np.log(c / r)))


def ks(spec: Mapping[str, Any], values: np.ndarray) -> tuple[float, float]:
    """KS statistic against the quantile sketch, p-value for the real reference size (scipy's asymptotic form)."""
    from scipy import stats

    quantiles = np.asarray(spec["quantiles"], dtype=float)
    d = float(stats.ks_2samp(quantiles, values).statistic)
    n, m = int(spec["n"]), len(values)
    p = float(stats.kstwo.sf(d, max(1, round(n * m / (n + m)))))
    return d, p


def numeric_drift(column: str, role: str, spec: Mapping[str, Any], values: Any) -> Drift:
    from runner.train.profile import bin_fractions

    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    cur = bin_fractions(x, spec["edges"])
    d, p = ks(spec, x)
    out = Drift(column, role, psi(spec["fractions"], cur, int(spec["n"]), len(x)), ks_statistic=d, ks_pvalue=p,
                ref_mean=float(spec["mean"]), cur_mean=float(x.mean()))
    out.sizes = (len(cur), int(spec["n"]), len(x))
    return out


def categorical_drift(column: str, spec: Mapping[str, Any], values: Any) -> Drift:
    import pandas as pd

    present = pd.Series(values).astype("string").dropna()
    shares = present.value_counts(normalize=True)
    cats = list(spec["categories"])
    ref = [spec["categories"][c] for c in cats] + [spec["other"]]
    cur = [float(shares.get(c, 0.0)) for c in cats] + [float(shares[~shares.index.isin(cats)].sum())]
    out = Drift(column, "feature", psi(ref, cur, int(spec["n"]), len(present)))
    out.sizes = (len(cur), int(spec["n"]), len(present))
    return out


def psi_noise(bins: int, n_ref: int, n_cur: int, alpha: float) -> float:
    """The PSI that sampling noise alone exceeds with probability `alpha`.

    For two samples of one distribution, PSI ~ (1/n_ref + 1/n_cur) * chi2(bins - 1) (it is close to
    the chi-square distance); small batches make large PSIs by chance, so a PSI counts only beyond this.
    """
    from scipy import stats

    if bins < 2 or n_ref < 1 or n_cur < 1:
        return math.inf
    return float(stats.chi2.isf(alpha, bins - 1) * (1 / n_ref + 1 / n_cur))


def flag(drift: list[Drift], limits: Mapping[str, Any]) -> None:
    """A column drifts when a shift is both large and significant (Bonferroni over the columns):
    PSI >= psi beyond its noise bound, or KS statistic >= ks_statistic with its p-value < pvalue."""
    alpha = limits["pvalue"] / max(1, len(drift))
    tested = sum(not math.isnan(d.ks_pvalue) for d in drift)
    for d in drift:
        d.psi_noise = psi_noise(*d.sizes, alpha)
        if not math.isnan(d.ks_pvalue):
            d.ks_pvalue = min(1.0, d.ks_pvalue * tested)
        by_ks = d.ks_pvalue < limits["pvalue"] and d.ks_statistic >= limits["ks_statistic"]
        by_psi = d.psi >= limits["psi"] and d.psi > d.psi_noise
        d.flagged = bool(by_psi or by_ks)


def assess(ref: Mapping[str, Any], X: Any, y: Any, model: Any, logged: Mapping[str, float],
           limits: Mapping[str, Any], watched: Sequence[str]) -> Result:
    """Every drift statistic, and the metrics on the batch when it has labels."""
    from runner.train import evaluate, profile

    drift = []
    for col, spec in ref["features"].items():
        if spec["kind"] == "numeric" and spec.get("n"):
            drift.append(numeric_drift(col, "feature", spec, X[col]))
        elif spec["kind"] == "categorical":
            drift.append(categorical_drift(col, spec, X[col]))
    proba = model.predict_proba(X)
    classes = np.asarray(model.classes_)
    for col, values in profile.probability_columns(proba, classes).items():
        drift.append(numeric_drift(col, "prediction", ref["prediction"]["columns"][col], values))
    if y is not None:
        shares = profile.class_shares(y, classes)
        ref_shares = [ref["target"]["shares"].get(str(c), 0.0) for c in classes]
        label = Drift(f"label ({y.name})", "label",
                      psi(ref_shares, [shares[str(c)] for c in classes], int(ref["n_train"]), len(y)),
                      ref_mean=ref_shares[-1], cur_mean=float(shares[str(classes[-1])] or 0.0))
        label.sizes = (len(classes), int(ref["n_train"]), len(y))
        drift.append(label)
    flag(drift, limits)
    order = {"feature": 0, "prediction": 1, "label": 2}
    drift.sort(key=lambda d: (order[d.role], -d.psi))
    result = Result(drift, n_rows=len(X))
    if y is not None:
        y_pred = model.predict(X)
        now = evaluate.scores(y, y_pred, proba, classes)
        for name in evaluate.MAIN_METRICS:
            if name in now and name in logged:
                on = name in watched
                flagged = on and logged[name] - now[name] > limits["max_drop"]
                result.metrics.append(Degradation(name, float(logged[name]), float(now[name]), on, bool(flagged)))
    return result
