"""The typed top of the config tree, the resolvers the YAML uses, and where the config groups live.

`register()` must run before Hydra composes (run.py and the compose-API tests call it);
nothing happens at import time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, OmegaConf

# The config groups: `conf/` beside the package, as in a source checkout or an editable install
# (the way the runner is installed). run.py composes from it; so does the monitor's retraining command.
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

# The held-out metrics a job computes (runner.train.evaluate) and `optimized_metric` may name.
LABEL_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "f1_macro")
PROBA_METRICS = ("roc_auc", "average_precision")
MAIN_METRICS = LABEL_METRICS + PROBA_METRICS  # higher is better: what `optimized_metric` may name
# Binary data only, lower is better: how well the positive class's probabilities are calibrated.
CALIBRATION_METRICS = ("brier_score", "log_loss", "calibration_error")
CALIBRATION_BINS = 10  # equal-width bins of `calibration_error` and the reliability plot
PROBA_PREFIX = "proba_"  # a class's probability column in predictions/holdout.parquet and runner.predict's output


@dataclass
class RegistryConfig:
    register: Any = False  # true | false | "best"
    name: str = MISSING
    promote: bool = True
    # The promotion gate (runner.registry.gate). Defaults here too, so a config logged before these keys
    # existed still loads through OmegaConf.merge(OmegaConf.structured(Config), logged).
    gate: str = "significant"  # significant | better
    min_delta: float = 0.0     # the challenger must beat the champion by more than this
    alpha: float = 0.05        # one-sided level of the paired bootstrap test
    min_rows: int = 50         # fewer rows both can be scored on: the champion stays


@dataclass
class RunnerConfig:
    """How the runner itself behaves (never what a job computes: cosmetic for a job's identity)."""

    preflight: bool = True     # a sweep checks every cell before the first fit
    stale_after: float = 600.0  # seconds without a heartbeat before another machine's RUNNING run counts as orphaned
    lock_wait: float = 60.0     # seconds to wait for a locked SQLite store before giving up in one line


@dataclass
class MlflowConfig:
    tracking_uri: str | None = None
    experiment_name: str = MISSING
    parent_run_id: str | None = None


EVAL_KINDS = ("holdout", "cv")


def ranking_metric(metric: str, eval_kind: str | None) -> str:
    """What a job returns to the sweeper and a sweep ranks it by: `cv_<metric>_mean` under eval=cv."""
    return f"cv_{metric}_mean" if eval_kind == "cv" else metric


def holdout_eval() -> dict[str, Any]:
    """`eval=holdout`: what a config logged before `eval` existed means."""
    return {"kind": "holdout", "bootstrap": 1000, "confidence": 0.95}


def threshold_metric(optimized_metric: str) -> str:
    """The metric a tuned threshold maximises: `optimized_metric` when it depends on the threshold, else f1."""
    return optimized_metric if optimized_metric in LABEL_METRICS else "f1"


@dataclass
class Config:
    dataset: Any = MISSING
    model: Any = MISSING
    sampler: Any = MISSING
    # A config logged before these groups existed means today's behaviour: none of them.
    preprocess: Any = field(default_factory=lambda: {"kind": "none"})
    weighting: Any = field(default_factory=lambda: {"kind": "none"})
    calibration: Any = field(default_factory=lambda: {"method": "none"})
    threshold: Any = field(default_factory=lambda: {"kind": "none"})
    eval: Any = field(default_factory=holdout_eval)
    seed: int = 42
    optimized_metric: str = "f1"
    rerun: bool = False
    explain: bool = False  # each job logs its permutation feature importance (a config logged before: false)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)


def file_stem(path: Any) -> str:
    """`examples/churn.csv` -> `churn`: a user file's dataset name (experiment and registry name)."""
    from pathlib import PurePath

    return PurePath(str(path)).stem or "csv"


def launch_dir() -> Path:
    """The directory the command was started from (Hydra's runtime.cwd when Hydra runs)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.cwd)
    return Path.cwd()


def register() -> None:
    """Store the schema in Hydra's ConfigStore and register the `runner.*` resolvers (idempotent)."""
    from hydra.core.config_store import ConfigStore

    from runner.config.resources import threads_per_job

    ConfigStore.instance().store(name="base_config", node=Config)
    if not OmegaConf.has_resolver("runner.threads"):
        OmegaConf.register_new_resolver("runner.threads", threads_per_job)
    if not OmegaConf.has_resolver("runner.threshold_metric"):
        OmegaConf.register_new_resolver("runner.threshold_metric", threshold_metric)
    if not OmegaConf.has_resolver("runner.stem"):
        OmegaConf.register_new_resolver("runner.stem", file_stem)
