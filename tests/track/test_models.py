"""A fitted pipeline as an MLflow model (runner.track.models): signature, pinned requirements, pickled by value."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import ROOT

LOAD_WITHOUT_RUNNER = """
import sys
sys.modules["runner"] = None  # any import of the runner package now fails
sys.path = [p for p in sys.path if p not in ("", {root!r})]
import mlflow.sklearn, pandas as pd
model = mlflow.sklearn.load_model({uri!r})
X = pd.DataFrame([[0.1 * i for i in range(10)]], columns=[f"x{{i}}" for i in range(10)])
print("predicted", model.predict(X))
"""


@pytest.mark.slow
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



def test_the_signature_keeps_each_columns_own_type_and_the_labels_type() -> None:
    import numpy as np
    import pandas as pd

    from runner.track import models

    X = pd.DataFrame({"n": [1, 2], "u": np.array([1, 2], dtype=np.uint8), "x": [0.5, 1.0], "b": [True, False],
                      "s": ["a", "b"], "t": pd.Series(["a", "b"], dtype="string")})
    sig = models.signature_of(X, np.array(["no", "yes"]))
    assert {c["name"]: c["type"] for c in sig.inputs.to_dict()} == {
        "n": "long", "u": "long", "x": "double", "b": "boolean", "s": "string", "t": "string"}
    assert sig.outputs.to_dict()[0]["type"] == "string"
    assert models.signature_of(X, np.array([0, 1])).outputs.to_dict()[0]["type"] == "long"
    assert models.signature_of(X, np.array([False, True])).outputs.to_dict()[0]["type"] == "boolean"
    imputing = models.signature_of(X, np.array(["no", "yes"]), imputes=True)  # takes empty numeric cells
    assert {c["name"]: c["type"] for c in imputing.inputs.to_dict()} == {
        "n": "any", "u": "any", "x": "any", "b": "boolean", "s": "string", "t": "string"}


def test_requirements_are_pinned_to_the_installed_versions() -> None:
    from importlib import metadata

    from runner.track import models

    pins = models.pip_requirements()
    assert pins == tuple(f"{name}=={metadata.version(name)}" for name in models.REQUIREMENTS)
    assert models.pip_requirements(("scikit-learn", "no-such-package-here")) == (f"scikit-learn=={metadata.version('scikit-learn')}",)


def test_mlflows_pickle_format_notice_alone_is_dropped() -> None:
    import logging

    from runner.track import models

    models._quiet_pickle_notice()
    models._quiet_pickle_notice()
    filters = [f for f in logging.getLogger("mlflow.sklearn").filters if isinstance(f, models._PickleFormatNotice)]
    assert len(filters) == 1

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("mlflow.sklearn", logging.WARNING, __file__, 1, msg, None, None)

    assert not filters[0].filter(record(models._PickleFormatNotice.PREFIX + " is not secure ..."))
    assert filters[0].filter(record("Model logged without a signature"))
