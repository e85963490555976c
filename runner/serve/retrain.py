"""The command that retrains a champion's exact config on a new batch (printed by runner.monitor)."""
from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.errors import UserError
from runner.sweep.overrides import value as override_value
from runner.track import names


def _option(group: str, node: Mapping[str, Any], hint: str) -> str:
    """The conf/<group>/ option whose `_target_` matches (the run's tag first)."""
    from omegaconf import DictConfig, OmegaConf

    from runner.config.schema import CONF_DIR

    target = node.get("_target_")
    options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
    for name in [hint] + options:
        path = CONF_DIR / group / f"{name}.yaml"
        option = OmegaConf.load(path) if path.exists() else None
        if isinstance(option, DictConfig) and option.get("_target_") == target:
            return name
    raise UserError(f"{group}._target_={target}: no conf/{group}/ option builds it; cannot write the retraining command")


# Every config group besides dataset, model and sampler, and the key that names its option.
GROUP_KEYS = {"preprocess": "kind", "weighting": "kind", "calibration": "method", "threshold": "kind", "eval": "kind"}


def retrain_command(resolved: Mapping[str, Any], tags: Mapping[str, str], name: str, data_path: Path,
                    target: str | None, ignored: Sequence[str] = ()) -> str:
    """`python run.py dataset=csv ...` that trains the champion's exact config on the batch.

    The model and sampler options are found by `_target_`; every other group is spelled out with the
    champion's recorded choice (`preprocess=none` included: a config logged before a group existed
    means its `none`), so the challenger never trains under other defaults (dataset=csv would pick
    preprocess=standard). Every value that differs from the chosen option's composed default (an
    experiment overlay's, a shell override's) becomes an override.
    """
    from omegaconf import OmegaConf

    from runner.config.schema import CONF_DIR, Config, register

    model = _option("model", resolved["model"], tags.get(names.MODEL, ""))
    sampler = _option("sampler", resolved["sampler"], tags.get(names.SAMPLER, ""))
    recorded = OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(Config), dict(resolved)))
    assert isinstance(recorded, dict)
    groups = {group: str(recorded[group][key]) for group, key in GROUP_KEYS.items()}
    top = [f"seed={resolved.get('seed', 42)}", f"optimized_metric={resolved.get('optimized_metric', 'f1')}"]
    from hydra import compose, initialize_config_dir

    register()
    chosen = [f"model={model}", f"sampler={sampler}", *(f"{g}={o}" for g, o in groups.items())]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        composed = compose(config_name="config", overrides=["dataset=csv", "dataset.path=x", "dataset.target=y",
                                                            *chosen, *top])
    base = OmegaConf.to_container(composed, resolve=True)
    assert isinstance(base, dict)
    args = ["dataset=csv", f"dataset.path={data_path.resolve()}", f"dataset.target={target or '<label column>'}",
            *chosen]
    if ignored:  # columns the champion does not use stay out of the challenger too
        args.insert(3, f"dataset.drop={override_value(list(ignored))}")
    for group in GROUP_KEYS:
        have, default = recorded[group] or {}, base[group] or {}
        for key, value in have.items():
            if key != GROUP_KEYS[group] and (key not in default or default[key] != value):
                args.append(f"{'' if key in default else '+'}{group}.{key}={override_value(value)}")
    for group in ("model", "sampler"):
        have, default = resolved[group] or {}, base[group] or {}
        for key, value in have.items():
            if key == "n_jobs" or (key in default and default[key] == value):
                continue
            args.append(f"{'' if key in default else '+'}{group}.{key}={override_value(value)}")
    args.append(f"seed={override_value(resolved.get('seed', 42))}")
    if resolved.get("optimized_metric", "f1") != "f1":
        args.append(f"optimized_metric={resolved['optimized_metric']}")
    args += ["registry.register=true", f"registry.name={name}"]
    return "python run.py " + " ".join(shlex.quote(a) for a in args)
