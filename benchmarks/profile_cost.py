"""What the reference profile costs each job, and how close its KS test is to the full-data one.

    python benchmarks/profile_cost.py

Part 1 times `runner.profile.build` beside the job's own fit + evaluation (logreg) on the same
data, at the default size and larger. Part 2 compares the KS statistic and p-value computed from
the profile's quantile sketch (what runner.monitor does) with scipy's ks_2samp against every
training row, for undrifted and slightly shifted batches.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from runner.serve import drift as monitor
from runner.train import evaluate, profile


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def data(n: int, features: int, seed: int = 0):
    X, y = make_classification(n_samples=n, n_features=features, n_informative=2, n_redundant=min(8, features - 2),
                               weights=[0.9, 0.1], random_state=seed)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(features)])
    return train_test_split(X, pd.Series(y), test_size=0.3, stratify=y, random_state=seed)


def cost() -> None:
    print("part 1: profile cost beside fit + evaluate (logreg), best of 3")
    print(f"{'rows':>8} {'features':>8} {'fit+eval s':>11} {'profile s':>10} {'ratio':>7} {'JSON KB':>8}")
    for n, f in ((1000, 10), (100_000, 10), (100_000, 100)):
        X_tr, X_te, y_tr, y_te = data(n, f)
        model = LogisticRegression(max_iter=1000)

        def fit_eval():
            model.fit(X_tr, y_tr)
            return evaluate.evaluate(model, X_te, y_te)

        t_fit = best_of(fit_eval)
        ev = fit_eval()
        t_prof = best_of(lambda: profile.build(X_tr, y_tr, ev.proba, ev.y_pred, ev.classes))
        size = len(json.dumps(profile.build(X_tr, y_tr, ev.proba, ev.y_pred, ev.classes), separators=(",", ":")))
        print(f"{len(X_tr):>8} {f:>8} {t_fit:>11.4f} {t_prof:>10.4f} {t_prof / t_fit:>7.2f} {size / 1024:>8.1f}")


def ks_accuracy() -> None:
    print("\npart 2: KS from the quantile sketch vs scipy.stats.ks_2samp on every training row (feature x0)")
    print(f"{'train':>7} {'batch':>6} {'shift':>6} {'D full':>8} {'D sketch':>9} {'|dD|':>7} {'p full':>9} {'p sketch':>9}")
    worst = 0.0
    for n_train in (700, 7000, 70_000):
        X_tr, X_te, *_ = data(int(n_train / 0.7) + 1, 10, seed=1)
        spec = profile.numeric_summary(X_tr["x0"])
        for m in (300, 3000):
            for shift in (0.0, 0.1, 0.2):
                rng = np.random.default_rng(m)
                batch = rng.choice(X_te["x0"].to_numpy(), size=m, replace=True) + shift * X_tr["x0"].std()
                full = stats.ks_2samp(X_tr["x0"].to_numpy(), batch)
                d, p = monitor.ks(spec, batch)
                worst = max(worst, abs(d - full.statistic))
                print(f"{len(X_tr):>7} {m:>6} {shift:>6.1f} {full.statistic:>8.4f} {d:>9.4f} "
                      f"{abs(d - full.statistic):>7.4f} {full.pvalue:>9.2e} {p:>9.2e}")
    print(f"largest |D sketch - D full| = {worst:.4f} (sketch of {profile.QUANTILES} quantiles)")


def psi_noise_calibration(trials: int = 2000) -> None:
    """Under no drift, how often does PSI exceed runner.monitor's noise bound (it should be ~alpha)?"""
    print(f"\npart 3: PSI of undrifted batches vs the noise bound at alpha=0.01 ({trials} trials each)")
    print(f"{'train':>7} {'batch':>6} {'bound':>7} {'PSI p99':>8} {'exceed':>7} {'PSI>=0.2':>9}")
    rng = np.random.default_rng(0)
    for n, m in ((105, 45), (233, 100), (700, 300), (7000, 300), (7000, 3000)):
        bound = monitor.psi_noise(profile.BINS, n, m, 0.01)
        values = []
        for _ in range(trials):
            spec = profile.numeric_summary(rng.normal(size=n))
            cur = profile.bin_fractions(rng.normal(size=m), spec["edges"])
            values.append(monitor.psi(spec["fractions"], cur, n, m))
        values = np.asarray(values)
        print(f"{n:>7} {m:>6} {bound:>7.3f} {np.quantile(values, 0.99):>8.3f} {(values > bound).mean():>7.3f} "
              f"{(values >= 0.2).mean():>9.3f}")


if __name__ == "__main__":
    cost()
    ks_accuracy()
    psi_noise_calibration()
