"""config -> one imblearn Pipeline: [features] -> [sampler | passthrough] -> model.

The sampler sits inside the pipeline, so resampling happens in `fit` on the training data only;
`predict` on held-out rows never sees it. The model step may be wrapped: label encoding for XGBoost
(runner.train.labels), class weights computed at fit time (runner.train.weights). Calibration and a
tuned threshold wrap the whole pipeline (runner.train.decision).
"""
from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig

from runner.config import allowlist
from runner.errors import UserError

log = logging.getLogger(__name__)


def _instantiate(node: DictConfig, key: str) -> Any:
    from hydra.utils import instantiate

    allowlist.check(node, key)
    if node.get("_target_") is None:
        return None
    try:
        return instantiate(node, _convert_="all")
    except Exception as e:  # a bad argument name or value, caught by the estimator's constructor
        cause = e.__cause__ or e
        raise UserError(f"{key}: cannot build {node._target_}: {cause}") from None


def build_estimator(cfg: DictConfig) -> Any:
    """The model the config names, validated by its own library before any fit."""
    model = _instantiate(cfg.model, "model")
    if model is None:
        raise UserError("model._target_ is empty; choose a model (model=logreg, rf or xgb)")
    _validate_params(model, "model", cfg.model)
    return model


def build_sampler(cfg: DictConfig) -> Any:
    sampler = _instantiate(cfg.sampler, "sampler")
    if sampler is not None:
        _validate_params(sampler, "sampler", cfg.sampler)
    return sampler


def _validate_params(estimator: Any, key: str, node: DictConfig) -> None:
    """scikit-learn's parameter constraints (ranges, choices) checked without fitting."""
    if not hasattr(estimator, "_parameter_constraints"):  # XGBoost declares none: the basics by hand
        for param in ("n_estimators", "max_depth"):
            value = node.get(param)
            if value is not None and (not isinstance(value, int) or value < (1 if param == "n_estimators" else 0)):
                low = 1 if param == "n_estimators" else 0
                raise UserError(f"{key}.{param}={value!r}: must be an integer >= {low}")
        return
    validate = estimator._validate_params
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        validate()
    except InvalidParameterError as e:
        # "The 'C' parameter of LogisticRegression must be a float in the range (0.0, inf]. Got -1.0 instead."
        msg = str(e)
        param = msg.split("'")[1] if msg.count("'") >= 2 else "?"
        raise UserError(f"{key}.{param}={node.get(param)!r}: {msg}") from None


def build(cfg: DictConfig, features: Any = "passthrough", classes: Any = None) -> Any:
    """The full, unfitted pipeline for a job (`classes`: the data's labels, when known)."""
    from imblearn.pipeline import Pipeline

    from runner.train import labels, weights

    sampler = build_sampler(cfg)
    model = build_estimator(cfg)
    if classes is not None:
        model = labels.wrap(model, classes)
    model = weights.wrap(model, str(cfg.get("weighting", {}).get("kind", "none")))
    return Pipeline([("features", features), ("sampler", sampler or "passthrough"), ("model", model)])


def inner_model(model: Any) -> Any:
    """The estimator the config named, inside any weighting and label-encoding wrappers."""
    from runner.train.labels import LabelEncoded
    from runner.train.weights import Balanced

    while isinstance(model, (Balanced, LabelEncoded)):
        model = model.estimator
    return model
