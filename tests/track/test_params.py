"""A resolved config as MLflow params (runner.track.params): dotted keys, redacted, within MLflow's limits."""
from __future__ import annotations

from helpers import compose
from runner.track import params


def test_flatten_gives_every_leaf_its_dotted_key() -> None:
    node = {"model": {"C": 1.0, "class_weight": {}}, "dataset": {"weights": [0.9, 0.1]},
            "sampler": {"steps": [{"k": 1}, {"k": 2}]}, "seed": 3, "empty": {}}
    assert params.flatten(node) == {"model.C": 1.0, "model.class_weight": "{}", "dataset.weights": [0.9, 0.1],
                                    "sampler.steps.0.k": 1, "sampler.steps.1.k": 2, "seed": 3, "empty": "{}"}
    assert params.flatten({}) == {}


def test_params_are_text_null_for_none_redacted_and_truncated_to_mlflows_limit() -> None:
    out = params.params_of({"a": None, "b": True, "extra": {"token": "t", "long": "x" * 7000}})
    assert out["a"] == "null" and out["b"] == "True" and out["extra.token"] == "***"
    assert params.MAX_PARAM - 2 <= len(out["extra.long"]) <= params.MAX_PARAM and out["extra.long"].endswith("x...[truncated]")


def test_a_composed_job_config_as_params() -> None:
    from omegaconf import OmegaConf

    resolved = OmegaConf.to_container(compose(["model=rf", "sampler=smotetomek", "seed=7"]), resolve=True)
    p = params.params_of(resolved)
    assert p["model._target_"] == "sklearn.ensemble.RandomForestClassifier" and p["model.random_state"] == "7"
    assert p["sampler.tomek._target_"] == "runner.train.samplers.TomekLinks" and p["dataset.weights"] == "[0.9, 0.1]"
    assert p["mlflow.tracking_uri"] == "null" and p["registry.register"] == "False"
    assert all(isinstance(v, str) for v in p.values())
