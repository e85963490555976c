"""`python run.py`: a mistake is one line and writes nothing; HYDRA_FULL_ERROR keeps Hydra's traceback;
`--cfg job` imports no ML stack. Then runner.cli.run's endings (exit codes, one-line errors) in this process.

Single-run mistakes run as real `python run.py ...` subprocesses that fail before any ML work,
and each asserts the one-line message and that the store was never even created.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import ALLOWED, RUN_PY, assert_one_line_error, db_path

BAD_INPUT = {
    "unknown model": (["model=nonexistent"], ["model=nonexistent", "available: logreg, rf, xgb"]),
    "unknown key": (["model.n_estimatorz=5"], ["model.n_estimatorz=5", "unknown key", "C, solver, max_iter",
                                               "+model.n_estimatorz=5"]),
    "wrong type": (["seed=abc"], ["seed=abc", "must be an integer"]),
    "C below range": (["model.C=-1"], ["model.C=-1", "range (0.0, inf]"]),
    "rf no trees": (["model=rf", "model.n_estimators=0"], ["model.n_estimators=0", "range [1, inf)"]),
    "xgb no trees": (["model=xgb", "model.n_estimators=0"], ["model.n_estimators=0", "integer >= 1"]),
    "test_size": (["dataset.test_size=1.5"], ["dataset.test_size=1.5", "(0, 1)"]),
    "too few rows": (["dataset.n_samples=3"], ["dataset.n_samples=3", "too small to split and stratify",
                                                "at least 20"]),
    "weights": (["dataset.weights=[0.9,0.9]"], ["dataset.weights=[0.9, 0.9]", "sum to 1", "1.8"]),
    "smote neighbours": (["sampler=smotetomek", "dataset.n_samples=60", "dataset.weights=[0.95,0.05]"],
                         ["SMOTETomek", "smallest class has 2 training rows", "k_neighbors=5", "a sampler without neighbours"]),
    "single class": (["dataset.weights=[1.0,0.0]"], ["dataset.weights=[1.0, 0.0]", "single-class",
                                                      "proportion > 0"]),
    "builtins.dict": (["model._target_=builtins.dict"], ["model._target_=builtins.dict", ALLOWED]),
    "shutil.copy": (["model._target_=shutil.copy"], ["model._target_=shutil.copy", ALLOWED]),
    "nested target": (["+model.estimator._target_=shutil.copy"], ["model.estimator._target_=shutil.copy", ALLOWED]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_one_line_and_writes_nothing(case: str, run_cli, store_uri: str) -> None:
    args, expected = BAD_INPUT[case]
    proc = run_cli(*args, check=False)
    assert_one_line_error(proc, *expected)
    assert not db_path(store_uri).exists(), "a failed single run must not even create the store"


@pytest.mark.slow
def test_hydra_full_error_still_shows_the_traceback(run_cli) -> None:
    proc = run_cli("seed=abc", check=False, env={"HYDRA_FULL_ERROR": "1"})
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "could not be converted to Integer" in proc.stderr


ML_STACK = ("mlflow", "sklearn", "xgboost", "imblearn", "matplotlib", "pandas", "scipy")


MODULES_AFTER_CFG_JOB = """
import json, runpy, sys
sys.argv = [{run_py!r}, "--cfg", "job", "model=xgb", "sampler=smotetomek"]
try:
    runpy.run_path({run_py!r}, run_name="__main__")
except SystemExit as e:
    assert e.code in (0, None), e.code
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.slow
def test_cfg_job_imports_no_ml_stack(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-c", MODULES_AFTER_CFG_JOB.format(run_py=str(RUN_PY))],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    lines = proc.stdout.strip().splitlines()
    modules = set(json.loads(lines[-1]))
    assert "sampler" in proc.stdout and "_target_: imblearn.combine.SMOTETomek" in proc.stdout
    assert "hydra" in modules and "runner.config" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in ML_STACK)
    assert heavy == [], heavy



# ---- runner.cli.run in this process: how Hydra's endings become exit codes and one line

@pytest.fixture
def run_main(monkeypatch: pytest.MonkeyPatch):
    """`runner.cli.run.main(task)`: its exit code; HYDRA_FULL_ERROR (which main sets for Hydra) restored after."""
    from runner.cli import run
    from runner.sweep import lifecycle

    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")
    monkeypatch.setattr(run, "FULL_ERROR", False)
    assert lifecycle.current() is None  # no sweep: nothing to close

    def call(task) -> int | str | None:
        with pytest.raises(SystemExit) as done:
            run.main(task)
        return done.value.code

    return call


def raise_(e: BaseException):
    def task() -> None:
        raise e

    return task


def test_a_finished_run_exits_0(run_main) -> None:
    assert run_main(lambda: 0.9) == 0


@pytest.mark.parametrize("e, code, err", [
    (KeyboardInterrupt(), 130, "interrupted\n"),
    (__import__("runner.errors").errors.Terminated("signal 15"), 143, "interrupted\n"),
    (__import__("runner.errors").errors.UserError("model.C=-1: bad"), 1, "error: model.C=-1: bad\n"),
])
def test_interruptions_and_mistakes_are_the_shells_codes_and_one_line(run_main, capsys, e, code: int, err: str) -> None:
    assert run_main(raise_(e)) == code
    assert capsys.readouterr().err == err


def test_a_hydra_error_is_its_one_line(run_main, capsys) -> None:
    from helpers import compose_error

    assert run_main(raise_(compose_error(["model=svm"]))) == 1
    assert capsys.readouterr().err == "error: model=svm: no such model config; available: logreg, rf, xgb\n"


def test_an_exit_inside_the_task_keeps_its_code(run_main) -> None:
    assert run_main(raise_(SystemExit("error: bad value"))) == "error: bad value"
    assert run_main(raise_(SystemExit(0))) == 0


def test_a_single_run_mistake_ends_the_job_with_the_error_line(monkeypatch) -> None:
    from helpers import compose
    from runner.cli import run

    monkeypatch.setattr(run, "FULL_ERROR", False)
    with pytest.raises(SystemExit) as done:
        run.job(compose(["dataset.test_size=1.5"]))
    assert str(done.value.code).startswith("error: dataset.test_size=1.5: must be a number in (0, 1)")
    monkeypatch.setattr(run, "FULL_ERROR", True)  # HYDRA_FULL_ERROR=1: the exception itself, for its traceback
    from runner.errors import UserError

    with pytest.raises(UserError):
        run.job(compose(["dataset.test_size=1.5"]))
