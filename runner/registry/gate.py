"""The promotion gate: the `champion` alias moves to a new version only when it is better.

Every new version gets the alias `challenger` (runner.registry.versions). The gate compares it with the
current `champion` on `optimized_metric` **on the same evaluation data**:

- both were evaluated on the same held-out split (same full-data digest, test size and split seed):
  their logged metrics are compared as they are;
- otherwise the champion is loaded (sklearn flavor, for probabilities) and scored on the challenger's
  held-out split, regenerated from the challenger run's `resolved_config.yaml`; the comparison is made
  there and both numbers are recorded on the challenger version.

Strictly better moves `champion`; a tie keeps it. No champion yet: the version becomes champion.
Each decision is written on the version as `gate.*` tags, so a version is decided once.

One decision at a time: when to decide is runner.registry.policy's call (the launching process for
a sweep, the job itself for a single run); each decision is made under runner.track.locks'
`decision_lock`, which serialises promotions from this machine only (MLflow has no compare-and-set
on aliases: promote from one machine, or set `registry.promote=false` on the workers and decide
centrally).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner.errors import exception_line
from runner.track import names
from runner.track.locks import decision_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

CHAMPION = names.CHAMPION
DECISION_TAG = names.GATE_DECISION
SPLIT_PARAMS = ("dataset.test_size", "dataset.random_state")


@dataclass(frozen=True)
class Decision:
    """What the gate decided for one version, and on which numbers."""

    name: str
    version: str
    outcome: str  # "first", "promoted", "kept", "off"
    metric: str
    challenger_score: float = math.nan
    champion_version: str | None = None
    champion_score: float = math.nan
    rescored: bool = False
    reason: str = ""

    @property
    def promoted(self) -> bool:
        return self.outcome in ("first", "promoted")

    def line(self) -> str:
        """The one line a user reads."""
        head = f"registry: {self.name} v{self.version}"
        if self.outcome == "off":
            return f"{head} is the challenger; promotion is off (registry.promote=false), champion unchanged"
        if self.outcome == "first":
            return f"{head} is the first champion ({self.metric}={self.challenger_score:.4f})"
        where = ("on the challenger's evaluation split (champion rescored)" if self.rescored
                 else "on the same evaluation data")
        if self.reason:
            return f"{head} kept as challenger: {self.reason}; champion stays v{self.champion_version}"
        cmp = ">" if self.outcome == "promoted" else ("=" if self.challenger_score == self.champion_score else "<")
        verdict = (f"champion -> v{self.version}" if self.outcome == "promoted"
                   else f"champion stays v{self.champion_version}")
        return (f"{head} {self.metric}={self.challenger_score:.4f} {cmp} champion v{self.champion_version} "
                f"{self.champion_score:.4f} {where}: {verdict}")

    def tags(self) -> dict[str, str]:
        out = {DECISION_TAG: self.outcome, "gate.metric": self.metric}
        if not math.isnan(self.challenger_score):
            out["gate.challenger_score"] = repr(self.challenger_score)
        if self.champion_version is not None:
            out["gate.champion_version"] = self.champion_version
            out["gate.evaluated_on"] = "challenger_split" if self.rescored else "same_split"
        if not math.isnan(self.champion_score):
            out["gate.champion_score"] = repr(self.champion_score)
        if self.reason:
            out["gate.reason"] = self.reason
        return out


def _version_data(client: MlflowClient, name: str, version: str) -> tuple[ModelVersion, Run]:
    mv = client.get_model_version(name, version)
    return mv, client.get_run(str(mv.run_id))


def _digest(mv: ModelVersion, run: Run) -> str:
    return str(mv.tags.get("data_digest") or run.data.tags.get(names.DATA_DIGEST, ""))


def same_evaluation(a: tuple[ModelVersion, Run], b: tuple[ModelVersion, Run]) -> bool:
    """Same full data (digest) split the same way (test size and split seed)."""
    (mv_a, run_a), (mv_b, run_b) = a, b
    if not _digest(mv_a, run_a) or _digest(mv_a, run_a) != _digest(mv_b, run_b):
        return False
    return all(run_a.data.params.get(p) == run_b.data.params.get(p) for p in SPLIT_PARAMS)


def rescore(client: MlflowClient, champion: tuple[ModelVersion, Run], challenger_run: Run, metric: str) -> float:
    """The champion's `metric` on the challenger's held-out split (regenerated from its config)."""
    import mlflow.sklearn
    import numpy as np
    from omegaconf import OmegaConf

    from runner.train import data, evaluate

    path = client.download_artifacts(challenger_run.info.run_id, names.RESOLVED_CONFIG)
    cfg = OmegaConf.load(path)
    split = data.load_split(cfg.dataset)
    expected = challenger_run.data.tags.get(names.DATA_DIGEST)
    if expected and split.digest != expected:
        raise ValueError("the challenger's data no longer regenerate identically from its logged config")
    mv = champion[0]
    model = mlflow.sklearn.load_model(f"models:/{mv.name}/{mv.version}")
    y_pred = model.predict(split.X_test)
    proba = model.predict_proba(split.X_test)
    scores = evaluate.scores(split.y_test, y_pred, proba, np.asarray(model.classes_))
    return scores.get(metric, math.nan)


def decide(client: MlflowClient, name: str, version: str, metric: str) -> Decision:
    """Compare `version` with the current champion and move the alias if it is strictly better.

    The caller holds `decision_lock`.
    """
    challenger = _version_data(client, name, version)
    score = challenger[1].data.metrics.get(metric, math.nan)
    aliases = client.get_registered_model(name).aliases
    current = aliases.get(CHAMPION)
    if current is None:
        client.set_registered_model_alias(name, CHAMPION, version)
        return Decision(name, version, "first", metric, score)
    current = str(current)
    if current == str(version):
        return Decision(name, version, "kept", metric, score, current, score, reason="already the champion")
    champion = _version_data(client, name, current)
    if math.isnan(score):
        return Decision(name, version, "kept", metric, score, current,
                        reason=f"it has no {metric} (was it evaluated on this kind of data?)")
    rescored = not same_evaluation(champion, challenger)
    if rescored:
        try:
            theirs = rescore(client, champion, challenger[1], metric)
        except Exception as e:  # e.g. the champion expects other columns: no comparison, no move
            return Decision(name, version, "kept", metric, score, current, rescored=True,
                            reason=f"the champion cannot be scored on its evaluation data ({exception_line(e)})")
    else:
        theirs = champion[1].data.metrics.get(metric, math.nan)
    if math.isnan(theirs):
        return Decision(name, version, "kept", metric, score, current, theirs, rescored,
                        reason=f"the champion has no {metric} on this evaluation data to compare with")
    if score > theirs:
        client.set_registered_model_alias(name, CHAMPION, version)
        return Decision(name, version, "promoted", metric, score, current, theirs, rescored)
    return Decision(name, version, "kept", metric, score, current, theirs, rescored)


def gate(client: MlflowClient, uri: str, name: str, version: str, metric: str, enabled: bool = True) -> Decision | None:
    """Decide once for a version (under the lock), record it on the version and print it.

    Returns None when the version was already decided (e.g. a reused run registered earlier).
    """
    if not enabled:
        decision = Decision(name, str(version), "off", metric)
        client.set_model_version_tag(name, str(version), DECISION_TAG, "off")
        print(decision.line(), flush=True)
        return decision
    with decision_lock(uri):
        if DECISION_TAG in client.get_model_version(name, str(version)).tags:
            return None
        decision = decide(client, name, str(version), metric)
        for key, value in decision.tags().items():
            client.set_model_version_tag(name, str(version), key, value)
    print(decision.line(), flush=True)
    return decision
