"""Where a job runs and what it is called: Hydra's view of it, its run name and its run tags.

The one builder of a job run's name and tags, for jobs that train and for jobs refused before they
could (a sweep's invalid cell is recorded under the same name as any other run).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig

from runner.track import names
from runner.track.secrets import redact_text

DEFAULT_DATASET = "synthetic-imbalanced"  # left out of run names
HIDDEN_OVERRIDES = ("mlflow.parent_run_id", "mlflow.tracking_uri")  # injected by the sweep


@dataclass(frozen=True)
class JobContext:
    """Choices, job number, output folder and task overrides; empty outside Hydra."""

    choices: Mapping[str, str] = field(default_factory=dict)
    num: int | None = None
    output_dir: str | None = None
    overrides: tuple[str, ...] = ()
    multirun: bool = False

    @classmethod
    def from_hydra(cls) -> JobContext:
        """The running Hydra job's context (an empty one outside Hydra)."""
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized():
            return cls()
        hc = HydraConfig.get()
        overrides = tuple(redact_text(o) for o in hc.overrides.task
                          if not o.lstrip("+~").startswith(HIDDEN_OVERRIDES))
        num = hc.job.get("num")  # type: ignore[attr-defined]  # a DictConfig at run time, "???" outside a multirun
        return cls(dict(hc.runtime.choices), num, hc.runtime.output_dir, overrides, hc.mode == RunMode.MULTIRUN)


@dataclass(frozen=True)
class Choices:
    """The dataset, model and sampler options a job was composed from."""

    dataset: str
    model: str
    sampler: str

    @property
    def run_name(self) -> str:
        """`model+sampler`, then `@dataset` unless it is the default dataset."""
        name = f"{self.model}+{self.sampler}"
        return name if self.dataset == DEFAULT_DATASET else f"{name}@{self.dataset}"


def choices(cfg: DictConfig, ctx: JobContext) -> Choices:
    """The options from Hydra, else read off the config (a class name, or the dataset's name)."""
    c = ctx.choices

    def target(node: Any) -> str:
        return str(node.get("_target_") or "none").rsplit(".", 1)[-1]

    return Choices(c.get("dataset") or str(cfg.dataset.get("name")), c.get("model") or target(cfg.model),
                   c.get("sampler") or target(cfg.sampler))


def run_tags(cfg: DictConfig, ctx: JobContext, chosen: Choices, **identity: str) -> dict[str, str]:
    """A job run's tags: choices, overrides, job number, folder, parent; plus identity tags when known
    (`code_version`, `data_digest`, `identity`, `git_commit`, `git_dirty`)."""
    tags = {
        names.DATASET: chosen.dataset,
        names.MODEL: chosen.model,
        names.SAMPLER: chosen.sampler,
        names.OVERRIDES: " ".join(ctx.overrides),
        names.EVAL: str(cfg.eval.get("kind", "holdout")),
    }
    keys = {"code_version": names.CODE_VERSION, "data_digest": names.DATA_DIGEST, "identity": names.IDENTITY,
            "git_commit": names.GIT_COMMIT, "git_dirty": names.GIT_DIRTY}
    tags.update({keys[k]: v for k, v in identity.items() if v})
    if "git_commit" in identity and identity["git_commit"]:
        tags[names.MLFLOW_GIT_COMMIT] = identity["git_commit"]
    if ctx.num is not None:
        tags[names.JOB_NUM] = str(ctx.num)
    if ctx.output_dir:
        tags[names.OUTPUT_DIR] = str(ctx.output_dir)
    if cfg.mlflow.parent_run_id:
        tags[names.PARENT] = cfg.mlflow.parent_run_id
    return tags
