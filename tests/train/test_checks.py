"""Is this data usable for this job (runner.train.checks): dataset parameters, stratified splits, sampler and model."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from helpers import compose
from runner.errors import UserError
from runner.train import checks, data, pipeline


def synthetic(**changes):
    cfg = OmegaConf.to_container(compose([]).dataset, resolve=True)
    cfg.update(changes)
    return OmegaConf.create(cfg)


@pytest.mark.parametrize("weights, test_size", [([0.5, 0.5], 0.3), ([0.9, 0.1], 0.3), ([0.95, 0.05], 0.2),
                                                ([0.6, 0.3, 0.1], 0.25), ([0.99, 0.01], 0.5), ([0.5, 0.5], 0.9)])
def test_minimum_samples_is_the_fewest_rows_accepted_and_sklearn_splits_them(weights, test_size) -> None:
    least = checks.minimum_samples(weights, test_size)
    params = {"weights": weights, "test_size": test_size, "n_classes": len(weights), "n_informative": 3, "flip_y": 0.0}
    checks.dataset_params(synthetic(n_samples=least, **params))
    with pytest.raises(UserError, match=f"dataset.n_samples={least - 1}: too small to split and stratify"):
        checks.dataset_params(synthetic(n_samples=least - 1, **params))
    _, y = make_classification(n_samples=least, n_features=10, n_informative=3, n_classes=len(weights),
                               weights=weights, flip_y=0.0, random_state=0)
    assert min(np.bincount(y)) >= 2
    train_test_split(y, test_size=test_size, stratify=y, random_state=0)  # sklearn agrees: it splits them


def test_minimum_samples_of_the_tutorial_default() -> None:
    assert checks.minimum_samples([0.9, 0.1], 0.3) == 20  # what `dataset.n_samples=3` is told
    assert checks.minimum_samples([0.0, 1.0], 0.3, cap=1000) == 1000  # an empty class: never enough


@pytest.mark.parametrize("changes, message", [
    ({"test_size": 0}, "dataset.test_size=0: must be a number in (0, 1)"),
    ({"test_size": "a"}, "dataset.test_size='a': must be a number in (0, 1)"),
    ({"n_samples": 10.5}, "dataset.n_samples=10.5: must be an integer in [1, inf]"),
    ({"n_samples": True}, "dataset.n_samples=True: must be an integer in [1, inf]"),
    ({"n_features": 0}, "dataset.n_features=0: must be an integer in [1, inf]"),
    ({"n_classes": 1, "weights": None}, "dataset.n_classes=1: must be an integer in [2, inf]"),
    ({"weights": [0.5, 0.3, 0.2]}, "dataset.weights=[0.5, 0.3, 0.2]: must be 2 (or 1) non-negative class proportions"),
    ({"weights": [1.2, -0.2]}, "dataset.weights=[1.2, -0.2]: must be 2 (or 1) non-negative class proportions"),
    ({"weights": [0.7, 0.2]}, "dataset.weights=[0.7, 0.2]: class proportions must sum to 1 (they sum to 0.9)"),
    ({"weights": [1.0]}, "dataset.weights=[1.0]: class 1 would get no rows (a single-class dataset)"),
    ({"flip_y": 1.5}, "dataset.flip_y=1.5: must be a number in [0, 1]"),
])
def test_dataset_parameters_that_make_no_sense_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(UserError) as e:
        checks.dataset_params(synthetic(**changes))
    assert str(e.value).startswith(message)


def test_one_weight_fewer_than_classes_is_completed_as_make_classification_does() -> None:
    checks.dataset_params(synthetic(weights=[0.8]))
    checks.dataset_params(synthetic(n_classes=3, weights=[0.5, 0.3], n_informative=3))
    with pytest.raises(UserError, match=r"n_samples=30: too small .* with weights \[0.95, 0.05\] .* at least 40"):
        checks.dataset_params(synthetic(n_samples=30, weights=[0.95]))


def test_a_mandatory_value_must_be_given() -> None:
    cfg = compose(["dataset=csv"]).dataset
    with pytest.raises(UserError, match=r"^dataset.path is required with dataset=csv \(e.g. dataset=csv dataset.path=FILE"):
        checks.dataset_params(cfg)
    with pytest.raises(UserError, match=r"^dataset.target is required"):
        checks.require({"kind": "csv", "path": "x.csv", "target": "???"})


def test_only_the_split_is_checked_for_other_kinds() -> None:
    checks.dataset_params(compose(["dataset=iris"]).dataset)
    with pytest.raises(UserError, match=r"^dataset.test_size=1: must be a number in \(0, 1\)"):
        checks.dataset_params(compose(["dataset=iris", "dataset.test_size=1"]).dataset)


@pytest.mark.parametrize("counts, test_size", [({0: 2, 1: 2}, 0.5), ({0: 10, 1: 2}, 0.3), ({"a": 3, "b": 3, "c": 3}, 0.34),
                                               ({0: 18, 1: 2}, 0.05), ({0: 18, 1: 2}, 0.95), ({0: 3, 1: 1}, 0.5),
                                               ({0: 3, 1: 3, 2: 3}, 0.2), ({True: 5, False: 5}, 0.9)])
def test_splittable_agrees_with_sklearns_stratified_split(counts: dict, test_size: float) -> None:
    y = pd.Series([label for label, n in counts.items() for _ in range(n)])
    try:
        train_test_split(np.arange(len(y)), y, test_size=test_size, stratify=y, random_state=0)
        sklearn_ok = True
    except ValueError:
        sklearn_ok = False
    try:
        checks.splittable(y, test_size)
        ours = True
    except UserError as e:
        ours = False
        assert str(e).startswith(f"dataset: {len(y)} rows (class counts {({k: int(v) for k, v in y.value_counts().items()})})")
    assert ours == sklearn_ok


def test_a_single_class_target_is_said_with_its_value() -> None:
    with pytest.raises(UserError, match=r"^dataset: the target has a single class \(1\); a classifier needs two or more"):
        checks.splittable(pd.Series(np.ones(10, dtype=np.int64)), 0.3)


def split_of(overrides: list[str]) -> data.Split:
    return data.load_split(compose(overrides).dataset)


def test_binary_only_metrics_refuse_multiclass_data() -> None:
    cfg = compose(["dataset=iris", "optimized_metric=average_precision"])
    split = split_of(["dataset=iris"])
    with pytest.raises(UserError, match=r"^optimized_metric=average_precision: only defined for binary data; this dataset has 3"):
        checks.against_data(cfg, split, None, pipeline.build_estimator(cfg))
    roc = compose(["dataset=iris", "optimized_metric=roc_auc"])  # defined for multiclass (one-vs-rest)
    checks.against_data(roc, split, None, pipeline.build_estimator(roc))


def test_liblinear_refuses_multiclass_data() -> None:
    cfg = compose(["dataset=iris", "model.solver=liblinear"])
    with pytest.raises(UserError, match=r"^model.solver=liblinear: refuses multiclass data \(3 classes\)"):
        checks.against_data(cfg, split_of(["dataset=iris"]), None, pipeline.build_estimator(cfg))


def test_a_single_class_training_split_is_refused() -> None:
    cfg = compose([])
    X = pd.DataFrame({"x0": np.arange(6.0)})
    split = data.Split(X, X, pd.Series([0] * 6), pd.Series([0, 0, 0, 1, 1, 1]), "d")
    with pytest.raises(UserError, match="^dataset: the training split has a single class"):
        checks.against_data(cfg, split, None, pipeline.build_estimator(cfg))


def test_smote_needs_more_minority_rows_than_neighbours() -> None:
    overrides = ["sampler=smotetomek", "dataset.n_samples=100", "dataset.weights=[0.95,0.05]"]
    cfg = compose(overrides)
    split = split_of(overrides)
    smallest = int(split.y_train.value_counts().min())
    assert smallest <= 5
    with pytest.raises(UserError, match=rf"^sampler \(SMOTETomek\): the smallest class has {smallest} training rows; "
                                        r"SMOTE needs more than k_neighbors=5"):
        checks.against_data(cfg, split, pipeline.build_sampler(cfg), pipeline.build_estimator(cfg))
    fewer = compose([*overrides, f"+sampler.smote={{_target_:imblearn.over_sampling.SMOTE,k_neighbors:{smallest - 1}}}"])
    checks.against_data(fewer, split, pipeline.build_sampler(fewer), pipeline.build_estimator(fewer))


def test_a_plain_smote_is_checked_and_other_samplers_are_not() -> None:
    from imblearn.over_sampling import SMOTE
    from imblearn.under_sampling import RandomUnderSampler

    cfg = compose([])
    X = pd.DataFrame({"x0": np.arange(20.0)})
    y = pd.Series([0] * 17 + [1] * 3)
    split = data.Split(X, X, y, y, "d")
    with pytest.raises(UserError, match="^sampler \\(SMOTE\\): the smallest class has 3 training rows"):
        checks.against_data(cfg, split, SMOTE(k_neighbors=3), None)
    checks.against_data(cfg, split, SMOTE(k_neighbors=2), None)
    checks.against_data(cfg, split, RandomUnderSampler(), None)


def test_plain_turns_numpy_scalars_into_python_values() -> None:
    assert repr(checks.plain(np.int64(3))) == "3" and checks.plain("a") == "a"


def test_at_the_minimum_every_class_is_in_both_splits() -> None:
    least = checks.minimum_samples([0.95, 0.05], 0.2)
    _, y = make_classification(n_samples=least, n_features=10, n_informative=3, weights=[0.95, 0.05], flip_y=0.0,
                               random_state=0)
    train, test = train_test_split(y, test_size=0.2, stratify=y, random_state=0)
    assert set(train) == set(test) == {0, 1}


def test_splittable_is_exactly_what_a_stratified_split_does() -> None:
    """Counts it accepts put every class in both splits whatever the random_state; counts it refuses leave a
    class out of one split for some random_state (200 random class counts and test sizes, 5 seeds each)."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        counts = [int(c) for c in rng.integers(1, 30, size=int(rng.integers(2, 4)))]
        test_size = float(rng.choice([0.1, 0.2, 0.25, 0.3, 0.5]))
        y = pd.Series(np.repeat(np.arange(len(counts)), counts))
        complete = [set(np.unique(part)) == set(range(len(counts)))
                    for seed in range(5) for part in train_test_split(y, test_size=test_size, stratify=y,
                                                                       random_state=seed)
                    ] if min(counts) >= 2 and math.ceil(test_size * len(y)) >= len(counts) else [False]
        try:
            checks.splittable(y, test_size)
        except UserError:
            assert not all(complete), (counts, test_size)
        else:
            assert all(complete), (counts, test_size)
