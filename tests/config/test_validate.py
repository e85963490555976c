"""Checks of a composed config that need no data (runner.config.validate); the gate's keys: registry/test_gate_evidence.py."""
from __future__ import annotations

import pytest

from helpers import ALLOWED, compose
from runner.config import validate
from runner.errors import UserError


@pytest.mark.parametrize("overrides", [[], ["optimized_metric=average_precision", "registry.register=best"],
                                       ["model=xgb", "sampler=smotetomek", "registry.register=true"]])
def test_composed_configs_pass(overrides: list[str]) -> None:
    validate.config(compose(overrides))


@pytest.mark.parametrize("overrides, message", [
    (["optimized_metric=f2"], "optimized_metric='f2': allowed: accuracy, balanced_accuracy, precision, recall, f1, "
                              "f1_macro, roc_auc, average_precision"),
    (["registry.register=sometimes"], "registry.register='sometimes': allowed: true, false, best"),
    (["model._target_=os.system"], f"model._target_=os.system: not allowed; {ALLOWED}"),
])
def test_refused_choices_name_the_key_the_value_and_what_is_allowed(overrides: list[str], message: str) -> None:
    with pytest.raises(UserError) as e:
        validate.config(compose(overrides))
    assert str(e.value).startswith(message)


def test_a_number_is_not_a_registration_choice() -> None:
    with pytest.raises(UserError, match="registry.register=1: allowed: true, false, best"):
        validate.config(compose(["registry.register=1"]))


@pytest.mark.parametrize("overrides, message", [
    (["+seeed=1"], "+seeed=1: no config group or key 'seeed'; did you mean seed?"),
    (["+notes.owner=alice"], "+notes.owner=alice: no config group or key 'notes'; free-form notes go under extra.* "
                             "(+extra.notes=...)"),
    (["+sampler.k_neighbors=3"], "sampler.k_neighbors=3: sampler=none takes no arguments"),
    (["eval.kind=loo"], "eval.kind='loo': allowed: holdout, cv"),
    (["eval.bootstrap=0"], "eval.bootstrap=0: must be an integer >= 1"),
    (["eval.confidence=95"], "eval.confidence=95: must be a number in (0, 1)"),
    (["eval=cv", "eval.folds=1"], "eval.folds=1: must be an integer >= 2"),
    (["eval=cv", "eval.repeats=0"], "eval.repeats=0: must be an integer >= 1"),
    (["threshold=tuned", "threshold.metric=roc_auc"], "threshold.metric='roc_auc': a threshold is tuned for a metric of labels"),
    (["threshold=tuned", "threshold.min_recall=1.5"], "threshold.min_recall=1.5: must be a number in (0, 1]"),
    (["threshold=tuned", "threshold.folds=1"], "threshold.folds=1: must be an integer >= 2"),
    (["calibration.method=platt"], "calibration.method='platt': allowed: none, sigmoid, isotonic"),
])
def test_keys_and_choices_the_runner_would_not_use_are_refused(overrides: list[str], message: str) -> None:
    with pytest.raises(UserError) as e:
        validate.config(compose(overrides))
    assert str(e.value).startswith(message)


def test_free_form_notes_and_every_option_of_the_decision_groups_pass() -> None:
    validate.config(compose(["+extra.owner=alice", "+extra.ticket.id=7"]))
    validate.config(compose(["threshold=tuned", "threshold.min_recall=0.8", "eval=cv", "registry.gate=better"]))
