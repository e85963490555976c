"""A sweep cell's checks before any fit (runner.sweep.preflight.check, print_invalid), in this process.

The sweeper end to end (cells listed together, recorded FAILED, not launched): test_preflight.py (slow).
"""
from __future__ import annotations

import pytest

from helpers import compose
from runner.errors import UserError
from runner.job.context import JobContext
from runner.sweep import preflight


def test_valid_cells_pass_and_each_distinct_dataset_is_loaded_once() -> None:
    splits: dict = {}
    for overrides in (["model=logreg"], ["model=rf", "sampler=smotetomek"]):
        preflight.check(compose(["dataset.n_samples=300", *overrides]), splits)
    assert len(splits) == 1
    preflight.check(compose(["dataset=iris"]), splits)
    assert len(splits) == 2


@pytest.mark.parametrize("overrides, message", [
    (["model.C=-1"], "model.C=-1"),                                     # the model's own constraints
    (["dataset.test_size=1.5"], "dataset.test_size=1.5: must be a number in (0, 1)"),
    (["optimized_metric=average_precision", "dataset=iris"], "optimized_metric=average_precision: only defined for binary"),
    (["sampler=smotetomek", "dataset.n_samples=60", "dataset.weights=[0.95,0.05]"], "the smallest class has 2 training rows"),
])
def test_a_cell_the_job_would_refuse_is_refused_before_any_fit(overrides: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        preflight.check(compose(overrides), {})


def test_a_dataset_that_cannot_be_split_is_refused_for_every_cell_that_uses_it() -> None:
    splits: dict = {}
    bad = ["dataset.n_samples=30", "dataset.weights=[0.99,0.01]", "dataset.flip_y=0"]
    for model in ("logreg", "rf"):
        with pytest.raises(UserError, match="dataset.n_samples=30: too small to split and stratify"):
            preflight.check(compose([*bad, f"model={model}"]), splits)


def test_the_invalid_cells_are_one_table(capsys) -> None:
    cfg = compose([])
    invalid = [preflight.Invalid(3, ["model.C=-1"], UserError("model.C=-1: must be > 0; token=abc"), cfg,
                                 JobContext(num=3, overrides=("model.C=-1",)), 0.0)]
    assert invalid[0].reason == "model.C=-1: must be > 0; token=***"
    preflight.print_invalid(invalid, 8)
    out = capsys.readouterr().out
    assert "preflight: 1 of 8 jobs are invalid and will not run" in out
    assert "model.C=-1: must be > 0; token=***" in out and "abc" not in out
