"""The command that retrains a champion's exact config on a new batch (runner.serve.retrain)."""
from __future__ import annotations

import shlex

import pytest
from omegaconf import OmegaConf

from helpers import compose
from runner.errors import UserError
from runner.serve import retrain

NAME = "synthetic-imbalanced-classifier"


def test_retrain_command_recreates_an_experiment_variant(tmp_path) -> None:
    """A champion from `experiment=compare` (logreg with liblinear): the command keeps every value."""
    cfg = compose(["experiment=compare", "variant=compare-logreg", "seed=5", "+model.tol=0.001"])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    tags = {"runner.model": "logreg", "runner.sampler": "none"}
    command = retrain.retrain_command(resolved, tags, NAME, tmp_path / "new.csv", "label")
    args = command.split()[2:]
    assert args[:5] == ["dataset=csv", f"dataset.path={tmp_path / 'new.csv'}", "dataset.target=label",
                        "model=logreg", "sampler=none"]
    assert "model.solver=liblinear" in args and "+model.tol=0.001" in args and "seed=5" in args
    with_id = retrain.retrain_command(resolved, tags, NAME, tmp_path / "new.csv", "label", ["id", "region"])
    assert "'dataset.drop=[id,region]'" in with_id  # columns the champion ignores stay out of the retrain
    # the overrides (without the csv dataset, which this test does not need) compose the same model
    again = compose([a for a in args if not a.startswith(("dataset", "registry"))])
    assert OmegaConf.to_container(again.model, resolve=True) == resolved["model"]
    assert OmegaConf.to_container(again.sampler, resolve=True) == resolved["sampler"]


def test_the_options_are_found_by_target_and_other_metrics_kept(tmp_path) -> None:
    cfg = compose(["model=xgb", "sampler=smotetomek", "optimized_metric=roc_auc", "model.max_depth=5"])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    command = retrain.retrain_command(resolved, {}, "my model", tmp_path / "b.csv", None)  # no tags: found by target
    args = shlex.split(command)[2:]
    assert args[2:5] == ["dataset.target=<label column>", "model=xgb", "sampler=smotetomek"]
    assert "model.max_depth=5" in args and "optimized_metric=roc_auc" in args and "registry.name=my model" in args
    assert not any(a.startswith(("model.n_jobs", "sampler.n_jobs")) for a in args)  # threads follow the machine
    again = compose([a for a in args if not a.startswith(("dataset", "registry"))])
    assert OmegaConf.to_container(again.model, resolve=True) == resolved["model"]


def test_a_champion_no_option_builds_cannot_get_a_command(tmp_path) -> None:
    resolved = OmegaConf.to_container(compose([]), resolve=True)
    resolved["model"]["_target_"] = "sklearn.svm.SVC"
    with pytest.raises(UserError, match=r"^model._target_=sklearn.svm.SVC: no conf/model/ option builds it"):
        retrain.retrain_command(resolved, {"runner.model": "svc"}, NAME, tmp_path / "b.csv", "y")
