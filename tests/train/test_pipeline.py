"""config -> one imblearn Pipeline (runner.train.pipeline): features, sampler, model, validated before any fit."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import compose
from runner.errors import UserError
from runner.train import labels, pipeline


@pytest.mark.parametrize("overrides, message", [
    (["model._target_=null"], "model._target_ is empty; choose a model (model=logreg, rf or xgb)"),
    (["+model.colour=red"], "model: cannot build sklearn.linear_model.LogisticRegression: "),
    (["model=rf", "model.max_depth=-2"], "model.max_depth=-2: The 'max_depth' parameter of RandomForestClassifier must be"),
    (["model.solver=newton"], "model.solver='newton': The 'solver' parameter of LogisticRegression must be a str among"),
    (["model=xgb", "model.max_depth=-1"], "model.max_depth=-1: must be an integer >= 0"),
    (["model=xgb", "model.n_estimators=2.5"], "model.n_estimators=2.5: must be an integer >= 1"),
])
def test_a_model_its_library_would_refuse_is_one_line_before_any_fit(overrides: list[str], message: str) -> None:
    with pytest.raises(UserError) as e:
        pipeline.build_estimator(compose(overrides))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_sampler_is_validated_like_a_model() -> None:
    with pytest.raises(UserError, match=r"^sampler.sampling_strategy='most': The 'sampling_strategy' parameter"):
        pipeline.build_sampler(compose(["sampler=smotetomek", "sampler.sampling_strategy=most"]))
    assert pipeline.build_sampler(compose(["sampler=none"])) is None


def test_the_pipeline_wraps_xgboost_only_for_labels_it_cannot_take() -> None:
    cfg = compose(["model=xgb", "sampler=smotetomek"])
    text = pipeline.build(cfg, classes=np.array(["no", "yes"]))
    assert isinstance(text.named_steps["model"], labels.LabelEncoded)
    assert type(text.named_steps["model"].estimator).__name__ == "XGBClassifier"
    plain = pipeline.build(cfg, classes=np.array([0, 1]))
    assert type(plain.named_steps["model"]).__name__ == "XGBClassifier"
    assert [name for name, _ in plain.steps] == ["features", "sampler", "model"]
