"""A logged job's permutation feature importance (runner.train.explain), read back or computed from MLflow.

`feature_importance.csv` is logged by the job itself with `explain=true`; otherwise it is computed on demand
(the sweep's report, `runner.review --html`, or a reused job under `explain=true`) from the run's logged model
and its held-out split rebuilt from the logged `resolved_config.yaml` (checked against the data digest),
then logged to the run so that the next reader takes it from there.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from runner.track import names

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)


class NotAvailable(Exception):
    """A job's feature importance cannot be computed (said in one line)."""


def held_out(client: MlflowClient, run: Run) -> tuple[pd.DataFrame, pd.Series]:
    """The run's held-out split, rebuilt from its logged resolved_config.yaml (checked against its data digest)."""
    from mlflow.exceptions import MlflowException

    from runner.errors import UserError
    from runner.track import logged as logged_run

    try:
        cfg = logged_run.config(client, run.info.run_id)
    except (MlflowException, OSError):
        raise NotAvailable(f"run has no {names.RESOLVED_CONFIG}") from None
    try:
        split = logged_run.split(client, run, cfg)
    except logged_run.DataChanged:
        raise NotAvailable("its data changed since the run (the data digest differs)") from None
    except (UserError, OSError, ValueError) as e:
        raise NotAvailable(f"its data could not be loaded again: {e}") from None
    return split.X_test, split.y_test


def logged(client: MlflowClient, run_id: str) -> pd.DataFrame | None:
    """The run's feature_importance.csv, when it already has one."""
    import pandas as pd
    from mlflow.exceptions import MlflowException

    if not any(f.path == names.FEATURE_IMPORTANCE for f in client.list_artifacts(run_id)):
        return None
    with tempfile.TemporaryDirectory(prefix="runner-importance-") as tmp:
        try:
            return pd.read_csv(client.download_artifacts(run_id, names.FEATURE_IMPORTANCE, tmp))
        except (MlflowException, OSError, ValueError):
            return None


def feature_importance(client: MlflowClient, run: Run, metric: str) -> pd.DataFrame:
    """The run's permutation feature importance: read back when logged, else computed and logged to the run.

    Raises NotAvailable with the reason when there is no model, config or data to compute it from.
    """
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    from runner.train import explain

    run_id = run.info.run_id
    known = logged(client, run_id)
    if known is not None:
        return known
    uri = run.data.tags.get(names.MODEL_URI)
    if not uri:
        raise NotAvailable("run logged no model")
    X, y = held_out(client, run)
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(client.tracking_uri)  # models:/m-<id> resolves in the run's own store
    try:
        model = mlflow.sklearn.load_model(uri)
    except (MlflowException, OSError) as e:
        raise NotAvailable(f"its model could not be loaded: {str(e).rstrip('.')}") from None
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets it
    table = explain.permutation_table(model, X, y, metric)
    with tempfile.TemporaryDirectory(prefix="runner-importance-") as tmp:
        path = Path(tmp) / names.FEATURE_IMPORTANCE
        table.to_csv(path, index=False)
        try:
            client.log_artifact(run_id, str(path))
        except Exception as e:  # noqa: BLE001 - the page still shows it; the next report tries again
            log.warning("feature importance of run %s not logged: %s", run_id, e)
    return table
