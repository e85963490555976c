"""Kept at this path for configs already logged: their `resolved_config.yaml` names
`runner.samplers.TomekLinks` as a `_target_`. New code imports runner.train.samplers."""
from runner.train.samplers import TomekLinks

__all__ = ["TomekLinks"]
