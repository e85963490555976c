"""Model Registry versions: register a job's logged model, tagged with where it came from.

Every new version gets the alias `challenger`; whether it also becomes `champion` is the promotion
gate's decision (runner.registry.gate), made once per version.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from runner.track import names
from runner.track.store import retrying_conflicts

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)


def version_tags(run_id: str, run_tags: Mapping[str, str], metrics: Mapping[str, float]) -> dict[str, str]:
    """What a version says about itself: source run, identity, choices, commit, held-out metrics."""
    tags = {"run_id": run_id}
    tags.update({v: str(run_tags[k]) for k, v in names.VERSION_TAGS.items() if k in run_tags})
    tags.update({f"metric.{k}": repr(float(v)) for k, v in metrics.items()})
    return tags


def register(client: MlflowClient, model_uri: str, name: str, run_id: str, tags: Mapping[str, str]) -> str:
    """A new version of `name` for the model at `model_uri`, tagged, with the alias `challenger`."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)  # a read: cheaper than a create refused by the database
    except MlflowException as e:
        if "RESOURCE_DOES_NOT_EXIST" not in str(e.error_code):
            raise
        try:
            client.create_registered_model(name)
        except MlflowException as again:  # another job created it meanwhile
            if "RESOURCE_ALREADY_EXISTS" not in str(again.error_code):
                raise
    # A tracking server refuses a models:/m-<id> source unless the LoggedModel's id comes with it.
    model_id = model_uri.split("/", 1)[1] if model_uri.startswith("models:/m-") else None
    mv = client.create_model_version(name, model_uri, run_id=run_id, tags={k: str(v) for k, v in tags.items()},
                                     model_id=model_id)
    try:
        mark_challenger(client, name, str(mv.version))
        client.set_tag(run_id, names.REGISTERED_VERSION, f"{name}/{mv.version}")
    except Exception:
        with contextlib.suppress(Exception):  # no registry version from a failed job
            client.delete_model_version(name, str(mv.version))
        raise
    log.info("registered %s version %s (alias %s)", name, mv.version, names.CHALLENGER)
    return str(mv.version)


def mark_challenger(client: MlflowClient, name: str, version: str) -> None:
    """Point the alias `challenger` at `version`, also when other jobs set it at the same moment.

    Two jobs giving a model its first challenger at once both insert the alias; the later insert
    fails on the alias table's key and is repeated as an update (runner.track.store.retrying_conflicts):
    last writer wins, as it would in turn.
    """
    retrying_conflicts(lambda: client.set_registered_model_alias(name, names.CHALLENGER, version),
                       "registered_model_alias")


def registered(run: Run) -> tuple[str, str] | None:
    """(name, version) a run was registered as, if it was."""
    value = run.data.tags.get(names.REGISTERED_VERSION)
    if not value or "/" not in value:
        return None
    name, version = value.rsplit("/", 1)
    return name, version
