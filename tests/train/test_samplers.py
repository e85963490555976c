"""What the speed-ups rely on, checked without timing anything (timings live in benchmarks/).

- `run.py --cfg job` imports no ML stack (composition stays instant);
- runner.samplers.TomekLinks, and the configured SMOTETomek, resample exactly like imblearn's defaults;
- a model logged with that sampler loads and predicts where the runner package is not importable.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from imblearn.combine import SMOTETomek
from imblearn.under_sampling import TomekLinks as ImblearnTomekLinks
from sklearn.datasets import make_classification

from conftest import ROOT, RUN_PY, compose
from runner import pipeline
from runner.samplers import TomekLinks

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


def test_cfg_job_imports_no_ml_stack(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-c", MODULES_AFTER_CFG_JOB.format(run_py=str(RUN_PY))],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    lines = proc.stdout.strip().splitlines()
    modules = set(json.loads(lines[-1]))
    assert "sampler" in proc.stdout and "_target_: imblearn.combine.SMOTETomek" in proc.stdout
    assert "hydra" in modules and "runner.config" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in ML_STACK)
    assert heavy == [], heavy


def datasets():
    """Binary data at 20 features (brute-force search), 10 features (tree search), three classes, duplicates."""
    X20, y20 = make_classification(n_samples=700, n_features=20, n_informative=2, n_redundant=8,
                                   weights=[0.85, 0.15], random_state=0)
    X10, y10 = make_classification(n_samples=700, n_features=10, n_informative=2, n_redundant=8,
                                   weights=[0.9, 0.1], random_state=1)
    X3, y3 = make_classification(n_samples=600, n_features=6, n_informative=3, n_redundant=1, n_classes=3,
                                 weights=[0.6, 0.3, 0.1], class_sep=0.5, random_state=2)
    Xd, yd = X10.copy(), y10.copy()
    Xd[:40] = Xd[40:80]  # exact duplicates, some with the other class: ties in the neighbour search
    yd[:20] = 1 - yd[40:60]
    return {"20 features": (X20, y20), "10 features": (X10, y10), "3 classes": (X3, y3), "duplicates": (Xd, yd)}


@pytest.mark.parametrize("name", list(datasets()))
@pytest.mark.parametrize("strategy", ["all", "auto"])
def test_tomek_links_remove_exactly_what_imblearn_removes(name: str, strategy: str) -> None:
    X, y = datasets()[name]
    ours = TomekLinks(sampling_strategy=strategy)
    theirs = ImblearnTomekLinks(sampling_strategy=strategy)
    Xo, yo = ours.fit_resample(X, y)
    Xt, yt = theirs.fit_resample(X, y)
    np.testing.assert_array_equal(ours.sample_indices_, theirs.sample_indices_)
    np.testing.assert_array_equal(Xo, Xt)
    np.testing.assert_array_equal(yo, yt)
    assert len(yt) < len(y)  # the data do have links: the comparison is not vacuous


@pytest.mark.parametrize("n_features", [10, 20])
def test_configured_smotetomek_resamples_like_imblearn_defaults(n_features: int) -> None:
    from runner import data

    cfg = compose(["sampler=smotetomek", "dataset.n_samples=1500", f"dataset.n_features={n_features}"])
    sampler = pipeline.build_sampler(cfg)
    assert type(sampler.tomek).__module__ == "runner.samplers"
    split = data.load_split(cfg.dataset)
    Xc, yc = sampler.fit_resample(split.X_train, split.y_train)
    Xd, yd = SMOTETomek(random_state=cfg.seed).fit_resample(split.X_train, split.y_train)
    assert len(yd) != len(split.y_train)
    np.testing.assert_array_equal(np.asarray(Xc), np.asarray(Xd))
    np.testing.assert_array_equal(np.asarray(yc), np.asarray(yd))


LOAD_WITHOUT_RUNNER = """
import sys
sys.modules["runner"] = None  # any import of the runner package now fails
sys.path = [p for p in sys.path if p not in ("", {root!r})]
import mlflow.sklearn, pandas as pd
model = mlflow.sklearn.load_model({uri!r})
X = pd.DataFrame([[0.1 * i for i in range(10)]], columns=[f"x{{i}}" for i in range(10)])
print("predicted", model.predict(X))
"""


def test_smotetomek_model_loads_without_the_runner_package(run_cli, client) -> None:
    run_cli("sampler=smotetomek", "model=logreg", "dataset.n_samples=400")
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    (run,) = client.search_runs([exp.experiment_id])
    uri = run.data.tags["runner.model_uri"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": client.tracking_uri}
    proc = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_RUNNER.format(root=str(ROOT), uri=uri)],
                          cwd="/", env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "predicted [" in proc.stdout


def test_dataset_input_is_what_mlflow_from_pandas_records() -> None:
    """tracking.dataset fills the schema and digest column-wise; the logged dataset must not change."""
    import warnings

    import mlflow
    import pandas as pd

    from runner import tracking

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.random((500, 3)), columns=["a", "b", "c"])
    df["flag"] = df.a > 0.5
    df["count"] = rng.integers(0, 5, 500)
    df["gappy"] = df.b.where(df.b > 0.2)  # has missing values: not required
    df["target"] = rng.integers(0, 2, 500)
    big = pd.DataFrame(rng.random((12_000, 3)), columns=["z", "a", "m"])  # beyond the 10,000 rows hashed
    big["target"] = rng.integers(0, 2, 12_000)
    for frame in (df, df.drop(columns=["gappy"]), df.assign(text="x"), big, big[["target", "m", "z", "a"]]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = tracking.dataset(frame, targets="target", name="d")
            theirs = mlflow.data.from_pandas(frame, targets="target", name="d")
            assert ours.to_json() == theirs.to_json()
            assert ours.schema == theirs.schema
    assert not tracking.dataset(df, targets="target", name="d").schema.input_dict()["gappy"].required
