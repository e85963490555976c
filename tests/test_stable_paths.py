"""Paths that logged records and users depend on stay importable: `python -m runner.<command>` names and
`runner.samplers` / `runner.labels`, which configs and pickled models of older runs name.

A whole store written before the move: test_old_records.py (slow).
"""
from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("old, new, name", [
    ("runner.samplers", "runner.train.samplers", "TomekLinks"),
    ("runner.labels", "runner.train.labels", "LabelEncoded"),
    ("runner.review", "runner.cli.review", "main"),
    ("runner.predict", "runner.cli.predict", "main"),
    ("runner.monitor", "runner.cli.monitor", "main"),
    ("runner.rerun", "runner.cli.rerun", "main"),
])
def test_the_old_path_is_the_new_object(old: str, new: str, name: str) -> None:
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_a_config_naming_the_old_sampler_path_still_builds(tmp_path) -> None:
    from helpers import compose
    from runner.train import pipeline

    cfg = compose(["sampler=smotetomek", "sampler.tomek._target_=runner.samplers.TomekLinks"])
    assert type(pipeline.build_sampler(cfg).tomek).__module__ == "runner.train.samplers"
