"""Every dataset x model x sampler composes with Hydra's compose API and instantiates."""
from __future__ import annotations

import itertools

import pytest
from omegaconf import OmegaConf

from conftest import compose
from runner import pipeline

DATASETS = ["synthetic-imbalanced", "iris"]
MODELS = ["logreg", "rf", "xgb"]
SAMPLERS = ["none", "smotetomek"]


@pytest.mark.parametrize("dataset,model,sampler", list(itertools.product(DATASETS, MODELS, SAMPLERS)))
def test_every_combination_composes_and_instantiates(dataset: str, model: str, sampler: str) -> None:
    cfg = compose([f"dataset={dataset}", f"model={model}", f"sampler={sampler}"])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert "${" not in OmegaConf.to_yaml(resolved)
    pipe = pipeline.build(cfg)
    assert [name for name, _ in pipe.steps] == ["features", "sampler", "model"]
    assert type(pipe.named_steps["model"]).__name__ == {
        "logreg": "LogisticRegression", "rf": "RandomForestClassifier", "xgb": "XGBClassifier"}[model]
    if sampler == "none":
        assert pipe.named_steps["sampler"] == "passthrough"
    else:
        assert type(pipe.named_steps["sampler"]).__name__ == "SMOTETomek"
        assert pipe.named_steps["sampler"].random_state == 42


def test_seed_feeds_every_random_state() -> None:
    cfg = compose(["model=rf", "sampler=smotetomek", "seed=7"])
    assert cfg.dataset.random_state == cfg.model.random_state == cfg.sampler.random_state == 7
    cfg = compose(["model=rf", "seed=7", "model.random_state=3"])
    assert cfg.model.random_state == 3 and cfg.dataset.random_state == 7


def test_estimator_arguments_set_and_added_from_overrides() -> None:
    cfg = compose(["model=rf", "model.n_estimators=300", "+model.min_weight_fraction_leaf=0.1"])
    est = pipeline.build_estimator(cfg)
    assert est.n_estimators == 300 and est.min_weight_fraction_leaf == 0.1


def test_tutorial_defaults() -> None:
    cfg = compose([])
    ds = cfg.dataset
    assert (ds.n_samples, ds.n_features, ds.n_informative, ds.n_redundant, list(ds.weights), ds.flip_y, ds.test_size) == (
        1000, 10, 2, 8, [0.9, 0.1], 0, 0.3)
    assert cfg.model.solver == "lbfgs"  # handles binary and multiclass data alike
    rf = compose(["model=rf"]).model
    assert (rf.n_estimators, rf.max_depth) == (30, 3)
    assert compose(["model=xgb"]).model.eval_metric == "logloss"


def test_experiment_overlays_compose() -> None:
    base = compose(["experiment=baseline"])
    assert base.model.solver == "liblinear" and base.model.C == 1.0 and base.dataset.name == "synthetic-imbalanced"
    cmp_ = compose(["experiment=compare", "variant=compare-xgb-smotetomek"])
    assert cmp_.registry.register is True
    assert cmp_.model._target_ == "xgboost.XGBClassifier" and cmp_.sampler._target_ == "imblearn.combine.SMOTETomek"
    iris = compose(["experiment=iris-underfit", "variant=underfit-rf"])
    assert iris.dataset.name == "iris" and iris.model.n_estimators == 1 and iris.registry.register is True
