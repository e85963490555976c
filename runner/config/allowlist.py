"""What a config may instantiate: estimators and samplers from a short list of libraries.

Hydra builds whatever `_target_` names; a config read back from a store or typed at a shell
must not be able to name `shutil.copy`. Every `_target_`, at every depth, is checked before
anything is built.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from runner.errors import UserError

ALLOWED_MODULES = ("sklearn", "xgboost", "imblearn", "runner")


def targets(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted key, value) of a `_target_` below `node`."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key == "_target_":
                yield here, value
            else:
                yield from targets(value, here)
    elif isinstance(node, (list, tuple, ListConfig)):
        for i, value in enumerate(node):
            yield from targets(value, f"{path}[{i}]")


def check_target(key: str, target: Any) -> None:
    """Raise UserError unless `target` names an estimator class of an allowed library."""
    if target is None:
        return
    name = str(target)
    allowed = ", ".join(f"{m}.*" for m in ALLOWED_MODULES)
    # The prefix is checked BEFORE anything is imported: importing a module can run its code.
    if name.split(".", 1)[0] not in ALLOWED_MODULES:
        raise UserError(f"{key}={name}: not allowed; only estimators and samplers from {allowed} may be built")
    from hydra.utils import get_class
    from sklearn.base import BaseEstimator

    try:
        obj = get_class(name)
    except Exception:
        raise UserError(f"{key}={name}: no such estimator class ({allowed})") from None
    if not (inspect.isclass(obj) and issubclass(obj, BaseEstimator)):
        raise UserError(f"{key}={name}: not an estimator or sampler class; only those may be built")


def check(node: Any, path: str = "") -> None:
    """Check every `_target_` below `node` (a model or sampler config, or a whole job config).

    The one check every command that instantiates from a config runs first: a config composed from
    the shell, or one read back from the store (`resolved_config.yaml` of an earlier run, e.g. for a
    re-run). Raises `UserError` naming the key; nothing is imported for a refused name.

    Interpolations are resolved first, since Hydra builds resolved values; if they cannot be
    resolved, the raw values are checked (an unresolved `${...}` target is refused).
    """
    if isinstance(node, (DictConfig, ListConfig)):
        try:
            node = OmegaConf.to_container(node, resolve=True)
        except Exception:
            node = OmegaConf.to_container(node, resolve=False)
    for key, target in targets(node, path):
        check_target(key, target)
