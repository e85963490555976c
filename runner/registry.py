"""Model Registry: register a job's logged model as a new version of a registered model."""
from __future__ import annotations

import logging
from typing import Any, Mapping

log = logging.getLogger(__name__)

VERSION_TAG = "runner.registered_version"  # on the run: "<name>/<version>"


def register(client: Any, model_uri: str, name: str, run_id: str, tags: Mapping[str, str]) -> str:
    """A new version of `name` for the model at `model_uri`, tagged with where it came from."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as e:
        if "RESOURCE_ALREADY_EXISTS" not in str(e.error_code):
            raise
    # A tracking server refuses a models:/m-<id> source unless the LoggedModel's id comes with it.
    model_id = model_uri.split("/", 1)[1] if model_uri.startswith("models:/m-") else None
    mv = client.create_model_version(name, model_uri, run_id=run_id, tags={k: str(v) for k, v in tags.items()},
                                     model_id=model_id)
    client.set_tag(run_id, VERSION_TAG, f"{name}/{mv.version}")
    log.info("registered %s version %s", name, mv.version)
    return str(mv.version)
