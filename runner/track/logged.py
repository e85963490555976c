"""What a job run logged, read back: its resolved config, and the held-out split that config describes.

One reader for every command that rebuilds a run's data (the gate re-scoring a champion logged without
predictions, a logged run's feature importance, `runner.rerun`, `runner.monitor`): the config is downloaded
to a temp folder that is removed after, and the split is loaded as the job loaded it (its `preprocess`
option decides whether empty cells are allowed) and checked against the run's data digest.
"""
from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING

from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from omegaconf import DictConfig

    from runner.train.data import Split


class DataChanged(ValueError):
    """The run's data no longer hash as they did when it ran."""


def config(client: MlflowClient, run_id: str) -> DictConfig:
    """The run's logged resolved_config.yaml. MlflowException or OSError when it has none."""
    from omegaconf import DictConfig, OmegaConf

    with tempfile.TemporaryDirectory(prefix="runner-logged-") as tmp:
        cfg = OmegaConf.load(client.download_artifacts(run_id, names.RESOLVED_CONFIG, tmp))
    assert isinstance(cfg, DictConfig)
    return cfg


def split(client: MlflowClient, run: Run, cfg: DictConfig | None = None) -> Split:
    """The run's train/held-out split, regenerated from its logged config (`cfg`: that config, already read).
    Raises as `config` does when there is no config, as runner.train.data does when the data cannot be loaded,
    and DataChanged when they hash otherwise."""
    from omegaconf import OmegaConf

    from runner.train import data

    cfg = cfg if cfg is not None else config(client, run.info.run_id)
    rebuilt = data.load_split(cfg.dataset, str(OmegaConf.select(cfg, "preprocess.kind", default="none")))
    expected = run.data.tags.get(names.DATA_DIGEST)
    if expected and rebuilt.digest != expected:
        raise DataChanged("its data no longer hash as they did when it ran (the data digest differs)")
    return rebuilt
