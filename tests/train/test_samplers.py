"""runner.train.samplers.TomekLinks, and the configured SMOTETomek, resample exactly like imblearn's defaults.

What the speed-up relies on, checked without timing anything (timings live in benchmarks/).
"""
from __future__ import annotations

import numpy as np
import pytest
from imblearn.combine import SMOTETomek
from imblearn.under_sampling import TomekLinks as ImblearnTomekLinks
from sklearn.datasets import make_classification

from helpers import compose
from runner.train import pipeline
from runner.train.samplers import TomekLinks


def datasets():
    """Binary data at 20 features (brute-force search), 10 features (tree search), three classes, duplicates."""
    X20, y20 = make_classification(n_samples=700, n_features=20, n_informative=2, n_redundant=8,
                                   weights=[0.85, 0.15], random_state=0)
    X10, y10 = make_classification(n_samples=700, n_features=10, n_informative=2, n_redundant=8,
                                   weights=[0.9, 0.1], random_state=1)
    X3, y3 = make_classification(n_samples=600, n_features=6, n_informative=3, n_redundant=1, n_classes=3,
                                 weights=[0.6, 0.3, 0.1], class_sep=0.5, random_state=2)
    Xd, yd = X10.copy(), y10.copy()
    Xd[:40] = Xd[40:80]  # exact duplicates, some with the other class: ties in the neighbour search
    yd[:20] = 1 - yd[40:60]
    return {"20 features": (X20, y20), "10 features": (X10, y10), "3 classes": (X3, y3), "duplicates": (Xd, yd)}


@pytest.mark.parametrize("name", list(datasets()))
@pytest.mark.parametrize("strategy", ["all", "auto"])
def test_tomek_links_remove_exactly_what_imblearn_removes(name: str, strategy: str) -> None:
    X, y = datasets()[name]
    ours = TomekLinks(sampling_strategy=strategy)
    theirs = ImblearnTomekLinks(sampling_strategy=strategy)
    Xo, yo = ours.fit_resample(X, y)
    Xt, yt = theirs.fit_resample(X, y)
    np.testing.assert_array_equal(ours.sample_indices_, theirs.sample_indices_)
    np.testing.assert_array_equal(Xo, Xt)
    np.testing.assert_array_equal(yo, yt)
    assert len(yt) < len(y)  # the data do have links: the comparison is not vacuous


@pytest.mark.parametrize("n_features", [10, 20])
def test_configured_smotetomek_resamples_like_imblearn_defaults(n_features: int) -> None:
    from runner.train import data

    cfg = compose(["sampler=smotetomek", "dataset.n_samples=1500", f"dataset.n_features={n_features}"])
    sampler = pipeline.build_sampler(cfg)
    assert type(sampler.tomek).__module__ == "runner.train.samplers"
    split = data.load_split(cfg.dataset)
    Xc, yc = sampler.fit_resample(split.X_train, split.y_train)
    Xd, yd = SMOTETomek(random_state=cfg.seed).fit_resample(split.X_train, split.y_train)
    assert len(yd) != len(split.y_train)
    np.testing.assert_array_equal(np.asarray(Xc), np.asarray(Xd))
    np.testing.assert_array_equal(np.asarray(yc), np.asarray(yd))

