"""A fitted pipeline as an MLflow 3 model: cloudpickle, pinned requirements, an explicit signature."""
from __future__ import annotations

import functools
import logging
from importlib import metadata
from typing import Any

from runner.track import names

REQUIREMENTS = ("mlflow", "scikit-learn", "imbalanced-learn", "xgboost", "cloudpickle", "numpy", "pandas", "scipy")


@functools.cache
def pip_requirements(packages: tuple[str, ...] = REQUIREMENTS) -> tuple[str, ...]:
    """Pinned from the installed versions: MLflow would otherwise spend seconds inferring them.

    Cached: each lookup parses a package's metadata file, and the installed versions do not change
    while a process runs its jobs.
    """
    pins = []
    for name in packages:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return tuple(pins)


def signature_of(X: Any, classes: Any, imputes: bool = False) -> Any:
    """An explicit signature: each column's own type (integer columns stay `long`, since MLflow
    refuses integers against `double`; text columns are `string`), and the label type out.

    A model that imputes takes empty numeric cells too: MLflow refuses an empty value in a `long`
    column and an integer in a `double` one, so a batch with gaps and an all-integer batch cannot
    both pass a typed numeric column. Its numeric columns are MLflow's `Any` instead (the model's
    imputer and scaler check the values), its text columns stay `string` (empty cells are missing).
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    def col_type(dtype: Any) -> Any:
        dtype = np.dtype(dtype) if not hasattr(dtype, "kind") else dtype
        if dtype.kind == "b":
            return "boolean"
        if dtype.kind in "iu":
            return "long"
        if dtype.kind == "f":
            return "double"
        return "string"

    def input_type(dtype: Any) -> Any:
        kind = col_type(dtype)
        return AnyType() if imputes and kind in ("long", "double") else kind

    inputs = Schema([ColSpec(input_type(dt), str(c)) for c, dt in X.dtypes.items()])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec(col_type(np.asarray(classes).dtype))]))


class _PickleFormatNotice(logging.Filter):
    """Drops MLflow's warning that the cloudpickle format was chosen: the runner chooses it on purpose
    (see `log_model`), and the same paragraph on every job of a sweep buries the lines that matter."""

    PREFIX = "Saving scikit-learn models in the pickle or cloudpickle format"

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIX)


def _quiet_pickle_notice() -> None:
    sklearn_log = logging.getLogger("mlflow.sklearn")
    if not any(isinstance(f, _PickleFormatNotice) for f in sklearn_log.filters):
        sklearn_log.addFilter(_PickleFormatNotice())


def log_model(pipeline: Any, X: Any, classes: Any, imputes: bool = False) -> Any:
    """Log the fitted pipeline as an MLflow 3 model named "model" in the active run.

    cloudpickle, because the default skops format refuses RandomForest, XGBoost and imblearn
    pipelines; pinned requirements and an explicit signature, because inferring them costs seconds.
    runner's own samplers are pickled by value, so the model loads where runner is not installed.
    """
    import cloudpickle
    import mlflow.sklearn

    from runner.train import features, samplers

    cloudpickle.register_pickle_by_value(samplers)
    cloudpickle.register_pickle_by_value(features)  # its missing-value helper travels with the model
    _quiet_pickle_notice()

    return mlflow.sklearn.log_model(
        pipeline,
        name=names.MODEL_NAME,
        serialization_format="cloudpickle",
        signature=signature_of(X, classes, imputes),
        pip_requirements=list(pip_requirements()),
        metadata={IMPUTES: imputes},
    )


IMPUTES = "runner.imputes"  # model metadata: the model fills empty cells (preprocess=standard|robust)
