"""Model Registry: register a job's logged model as a new version, tagged with where it came from.

Every new version gets the alias `challenger`; whether it also becomes `champion` is the promotion
gate's decision (runner.promote), made once per version.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Mapping

log = logging.getLogger(__name__)

VERSION_TAG = "runner.registered_version"  # on the run: "<name>/<version>"
CHALLENGER = "challenger"

# run tag -> version tag, for versions registered from a finished run (runner.sweep, runner.job)
RUN_TAGS = {
    "runner.identity": "identity",
    "runner.model": "model",
    "runner.sampler": "sampler",
    "runner.dataset": "dataset",
    "runner.data_digest": "data_digest",
    "runner.git_commit": "git_commit",
    "runner.git_dirty": "git_dirty",
    "runner.code_version": "code_version",
    "runner.overrides": "overrides",
}


def tags_of_run(run: Any) -> dict[str, str]:
    """What a version says about itself: source run, identity, choices, commit, held-out metrics."""
    tags = {"run_id": run.info.run_id}
    tags.update({v: run.data.tags[k] for k, v in RUN_TAGS.items() if k in run.data.tags})
    tags.update({f"metric.{k}": repr(float(v)) for k, v in run.data.metrics.items()})
    return tags


def register(client: Any, model_uri: str, name: str, run_id: str, tags: Mapping[str, str]) -> str:
    """A new version of `name` for the model at `model_uri`, tagged, with the alias `challenger`."""
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
    try:
        mark_challenger(client, name, str(mv.version))
        client.set_tag(run_id, VERSION_TAG, f"{name}/{mv.version}")
    except Exception:
        with contextlib.suppress(Exception):  # no registry version from a failed job
            client.delete_model_version(name, str(mv.version))
        raise
    log.info("registered %s version %s (alias %s)", name, mv.version, CHALLENGER)
    return str(mv.version)


def mark_challenger(client: Any, name: str, version: str) -> None:
    """Point the alias `challenger` at `version`, also when other jobs set it at the same moment.

    Two jobs giving a model its first challenger at once both insert the alias; the later insert
    fails on the alias table's key and is repeated as an update (runner.tracking.retrying_conflicts):
    last writer wins, as it would in turn.
    """
    from runner import tracking

    tracking.retrying_conflicts(lambda: client.set_registered_model_alias(name, CHALLENGER, version),
                                "registered_model_alias")


def registered(run: Any) -> tuple[str, str] | None:
    """(name, version) a run was registered as, if it was."""
    value = run.data.tags.get(VERSION_TAG)
    if not value or "/" not in value:
        return None
    name, version = value.rsplit("/", 1)
    return name, version
