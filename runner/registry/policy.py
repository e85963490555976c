"""The one place that decides whether a job's model is registered and when the promotion gate runs.

- `registry.register=true`: every job registers its model, inside its run (a job whose registration
  fails is FAILED and leaves no version).
- `registry.register=best`: a single run is its own best job and registers itself; a sweep registers
  only its best finished job, in the launching process, after the last job.
- The gate (runner.registry.gate) runs once per new version: in the job for a single run (after its
  run is FINISHED), in the launching process for a sweep (every version its jobs registered, in
  version order), so one process decides at a time.
- A reused run (identical config, code and data) is registered now if it was not yet and the policy
  registers it, then gated like any new version.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from runner.registry import gate, versions
from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)


class RankedJob(Protocol):
    """A sweep's job as its leaderboard ranks it (runner.sweep.leaderboard.Row)."""

    job: str
    run_id: str
    status: str
    metrics: dict[str, float]

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class Policy:
    """`registry.*` and `optimized_metric` of a job or sweep, and whether it is a sweep."""

    register: Any  # True | False | "best"
    name: str
    promote: bool
    metric: str
    multirun: bool
    gate_settings: gate.GateSettings = field(default_factory=gate.GateSettings)  # registry.gate etc., eval.*, seed

    @classmethod
    def of(cls, cfg: Any, multirun: bool) -> Policy:
        return cls(cfg.registry.register, str(cfg.registry.name), bool(cfg.registry.promote),
                   str(cfg.optimized_metric), multirun, gate.settings_of(cfg))

    @property
    def registers_each_job(self) -> bool:
        """register=true always; register=best only outside a sweep (a single run is its own best job)."""
        return self.register is True or (self.register == "best" and not self.multirun)

    def register_job(self, client: MlflowClient, run_id: str, model_uri: str, run_tags: Mapping[str, str],
                     metrics: Mapping[str, float]) -> str | None:
        """Inside a job's run: its model as a new version, when the policy registers every job."""
        if not self.registers_each_job:
            return None
        return versions.register(client, model_uri, self.name, run_id,
                                 versions.version_tags(run_id, run_tags, metrics))

    def after_job(self, client: MlflowClient, uri: str, run_id: str) -> gate.Decision | None:
        """After a single run closed: gate the version it registered (a sweep decides at its end)."""
        if self.multirun:
            return None
        found = versions.registered(client.get_run(run_id))
        if found is None:
            return None
        return gate.gate(client, uri, found[0], found[1], self.metric, self.promote, self.gate_settings)

    def adopt(self, client: MlflowClient, uri: str, previous: Run) -> None:
        """A reused run: register it if it was not yet and the policy registers it, then gate it."""
        model_uri = previous.data.tags.get(names.MODEL_URI)
        if not self.registers_each_job or names.REGISTERED_VERSION in previous.data.tags or not model_uri:
            return
        run_id = previous.info.run_id
        self.register_job(client, run_id, model_uri, previous.data.tags, previous.data.metrics)
        self.after_job(client, uri, run_id)

    def after_sweep(self, client: MlflowClient, uri: str, ranked: Sequence[RankedJob]) -> None:
        """At a sweep's end (not interrupted): register=best registers the best finished job; then the
        gate decides every version the sweep's jobs registered, in version order."""
        if self.register not in (True, "best"):
            return
        if self.register == "best":
            self._register_best(client, ranked)
        found = set()
        for row in ranked:
            if row.status == "FINISHED":
                name_version = versions.registered(client.get_run(row.run_id))
                if name_version is not None:
                    found.add(name_version)
        for name, version in sorted(found, key=lambda nv: (nv[0], int(nv[1]))):
            gate.gate(client, uri, name, version, self.metric, self.promote, self.gate_settings)

    def _register_best(self, client: MlflowClient, ranked: Sequence[RankedJob]) -> None:
        best = next((r for r in ranked if r.status == "FINISHED"
                     and not math.isnan(r.metrics.get(self.metric, math.nan))), None)
        if best is None:
            log.warning("registry.register=best: no finished job to register")
            return
        run = client.get_run(best.run_id)
        model_uri = run.data.tags.get(names.MODEL_URI)
        if model_uri and names.REGISTERED_VERSION not in run.data.tags:
            version = versions.register(client, model_uri, self.name, best.run_id,
                                        versions.version_tags(best.run_id, run.data.tags, run.data.metrics))
            print(f"registered the best job #{best.job} ({best.label}) as {self.name} version {version}")
