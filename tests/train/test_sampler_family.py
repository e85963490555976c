"""The imbalanced-learn sampler family: each option composes, fits inside the pipeline on the default data and
on Iris, resamples training rows only, and is checked against the data before any fit."""
from __future__ import annotations

import pytest

from helpers import compose
from runner.errors import UserError
from runner.train import checks, data, pipeline

SAMPLERS = ("none", "random-under", "random-over", "smote", "borderline-smote", "adasyn", "smoteenn", "smotetomek")


@pytest.mark.slow  # 16 fits
@pytest.mark.parametrize("dataset", ["synthetic-imbalanced", "iris"])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_fits_inside_the_pipeline(sampler: str, dataset: str) -> None:
    cfg = compose([f"sampler={sampler}", f"dataset={dataset}", "model=logreg"])
    split = data.load_split(cfg.dataset)
    pipe = pipeline.build(cfg, "passthrough", split.classes)
    step = pipe.named_steps["sampler"]
    checks.against_data(cfg, split, None if step == "passthrough" else step, pipe.named_steps["model"])
    pipe.fit(split.X_train, split.y_train)
    if sampler != "none":
        assert step.random_state == cfg.seed  # seeded from the one seed
        resampled_X, resampled_y = step.fit_resample(split.X_train, split.y_train)
        if dataset == "synthetic-imbalanced":  # Iris is balanced: nothing to resample there
            assert len(resampled_y) != len(split.y_train)
    assert len(pipe.predict(split.X_test)) == len(split.X_test)  # predictions never resample


@pytest.mark.parametrize("sampler, key", [("smote", "k_neighbors"), ("borderline-smote", "k_neighbors"),
                                          ("adasyn", "n_neighbors"), ("smoteenn", "k_neighbors"),
                                          ("smotetomek", "k_neighbors")])
def test_too_few_minority_rows_for_the_neighbour_search_is_one_line(sampler: str, key: str) -> None:
    cfg = compose([f"sampler={sampler}", "dataset.n_samples=60", "dataset.weights=[0.9,0.1]"])
    split = data.load_split(cfg.dataset)  # 4 minority training rows
    pipe = pipeline.build(cfg, "passthrough", split.classes)
    with pytest.raises(UserError, match=rf"smallest class has \d+ training rows.*needs more than {key}=5"):
        checks.against_data(cfg, split, pipe.named_steps["sampler"], pipe.named_steps["model"])


def test_random_samplers_need_no_neighbours() -> None:
    for sampler in ("random-under", "random-over"):
        cfg = compose([f"sampler={sampler}", "dataset.n_samples=60"])
        split = data.load_split(cfg.dataset)
        pipe = pipeline.build(cfg, "passthrough", split.classes)
        assert checks.minority_neighbours(pipe.named_steps["sampler"]) is None
        checks.against_data(cfg, split, pipe.named_steps["sampler"], pipe.named_steps["model"])
