"""Kept at this path for models already logged: xgb pipelines trained on text labels pickle
`runner.labels.LabelEncoded` by reference. New code imports runner.train.labels."""
from runner.train.labels import LabelEncoded

__all__ = ["LabelEncoded"]
