"""conf/ through Hydra's compose API: every dataset x model x sampler instantiates; defaults, overlays and presets."""
from __future__ import annotations

import itertools

import pytest
from omegaconf import OmegaConf

from helpers import compose, compose_with_hydra
from runner.train import pipeline

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


def test_local_parallel_preset_is_joblib_with_two_jobs() -> None:
    cfg = compose_with_hydra(["launcher=local-parallel"])
    assert "joblib" in cfg.hydra.launcher._target_ and cfg.hydra.launcher.n_jobs == 2
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "joblib"
    plain = compose_with_hydra([])
    assert plain.hydra.runtime.choices["hydra/launcher"] == "basic"
    assert "launcher" not in plain  # a _global_ preset adds no key of its own to the job's config


def test_ray_preset_composes_for_local_and_cluster() -> None:
    cfg = compose_with_hydra(["launcher=ray"])
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "ray"
    init = cfg.hydra.launcher.ray.init
    assert init.address is None and "object_store_memory" in init and init.object_store_memory is None
    assert cfg.hydra.launcher.ray.remote.num_cpus == 1
    cluster = compose_with_hydra(["launcher=ray", "hydra.launcher.ray.init.address=ray://head:10001"])
    assert cluster.hydra.launcher.ray.init.address == "ray://head:10001"


def test_optuna_presets_compose() -> None:
    for preset, model in (("xgb-optuna", "xgboost.XGBClassifier"), ("rf-optuna", "sklearn.ensemble.RandomForestClassifier")):
        cfg = compose_with_hydra([f"hparams_search={preset}"])
        sweeper = cfg.hydra.sweeper
        assert "optuna" in sweeper._target_ and sweeper.direction == "maximize"
        assert sweeper.storage is None and sweeper.max_failure_rate == 0.5
        assert cfg.model._target_ == model
        assert any(v.startswith("int(interval(") for v in sweeper.params.values())
