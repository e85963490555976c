"""The promotion gate: the `champion` alias moves to a new version only when it is better.

Every new version gets the alias `challenger` (runner.registry.versions). The gate compares it with the
current `champion` on `optimized_metric`, by one of two rules (`registry.gate`):

`significant` (the default) asks for evidence, on rows **neither model trained on**:

- same full data (digest), same split (test size and split seed): the same held-out rows (`same_split`);
- same full data split differently: each model trained on part of the other's held-out rows, so only the
  intersection of the two held-out sets is fair (`common_rows`);
- other data (another digest): the champion is scored on the challenger's held-out rows, regenerated from
  the challenger run's `resolved_config.yaml` (`challenger_split`).

The rows' predictions are the runs' logged `predictions/holdout.parquet` (a run logged before them has its
held-out predictions rebuilt: its split regenerated from its config, predicted by its registered model).
`champion` moves when the challenger beats it by more than `registry.min_delta` in a one-sided paired
stratified bootstrap test at `registry.alpha` (runner.train.uncertainty.paired_bootstrap, with the deciding
config's `eval.bootstrap`, `eval.confidence` and `seed`): p = share of resampled differences <= min_delta
(+1 corrected) must be <= alpha, and the observed difference must exceed min_delta. Fewer than `registry.min_rows` such rows, or a class
missing among them: the champion stays, and the line says why.

`better` is the rule before the test existed: both models' scores on the same evaluation data (logged
metrics on the same split, else the champion rescored on the challenger's split), and any strict win moves
`champion`.

A tie keeps the champion. No champion yet: the version becomes champion. Each decision is written on the
version as `gate.*` tags, so a version is decided once.

One decision at a time: when to decide is runner.registry.policy's call (the launching process for
a sweep, the job itself for a single run); each decision is made under runner.track.locks'
`decision_lock`, which serialises promotions from this machine only (MLflow has no compare-and-set
on aliases: promote from one machine, or set `registry.promote=false` on the workers and decide
centrally).
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.errors import exception_line
from runner.track import names
from runner.track.locks import decision_lock
from runner.track.predictions import quiet_downloads

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

    from runner.track.predictions import Paired
    from runner.train.data import Split

log = logging.getLogger(__name__)

CHAMPION = names.CHAMPION
DECISION_TAG = names.GATE_DECISION
SPLIT_PARAMS = ("dataset.test_size", "dataset.random_state")

SIGNIFICANT, BETTER = "significant", "better"
# gate.evaluated_on: which rows both models were scored on
SAME_SPLIT, COMMON_ROWS, CHALLENGER_SPLIT = "same_split", "common_rows", "challenger_split"


@dataclass(frozen=True)
class GateSettings:
    """How the gate decides: `registry.gate|min_delta|alpha|min_rows` and the test's resamples,
    interval confidence and seed (the deciding config's `eval.bootstrap`, `eval.confidence`, `seed`)."""

    rule: str = SIGNIFICANT  # significant | better
    min_delta: float = 0.0
    alpha: float = 0.05
    min_rows: int = 50
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 42

    @property
    def method(self) -> str:
        """What `gate.method` records."""
        if self.rule == BETTER:
            return "strict win on the same evaluation data, no test (registry.gate=better)"
        return (f"paired bootstrap, {self.resamples} stratified resamples (seed {self.seed}), one-sided, "
                f"alpha={self.alpha:g}, min_delta={self.min_delta!r}")


@dataclass(frozen=True)
class Evidence:
    """The paired test of a challenger against the champion on the rows both were scored on."""

    evaluated_on: str  # same_split | common_rows | challenger_split
    rows: int | None  # None: the rows could not be read
    delta: float = math.nan  # metric(challenger) - metric(champion) on those rows
    ci_low: float = math.nan
    ci_high: float = math.nan
    p_value: float = math.nan
    confidence: float = 0.95
    min_delta: float = 0.0

    def where(self) -> str:
        if self.evaluated_on == SAME_SPLIT:
            return f"on the same {self.rows} rows"
        if self.evaluated_on == COMMON_ROWS:
            return f"on {self.rows} held-out rows neither model trained on"
        return f"on the challenger's {self.rows} held-out rows (champion rescored)"


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
    evidence: Evidence | None = None  # registry.gate=significant: the rows and the test
    method: str = ""
    rule: str = BETTER  # the rule that decided (registry.gate)

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
        if self.reason:
            return f"{head} kept as challenger: {self.reason}; champion stays v{self.champion_version}"
        verdict = (f"champion -> v{self.version}" if self.outcome == "promoted"
                   else f"champion stays v{self.champion_version}")
        ev = self.evidence
        if ev is not None:
            confidence = f"{100 * ev.confidence:g}%"
            significant = "significant" if self.outcome == "promoted" else "not significant"
            if ev.min_delta:
                significant += f" over min_delta={ev.min_delta:g}"
            return (f"{head} {self.metric}={self.challenger_score:.4f} vs champion v{self.champion_version} "
                    f"{self.champion_score:.4f} {ev.where()}: \u0394={ev.delta:+.3f}, {confidence} CI "
                    f"[{ev.ci_low:+.3f}, {ev.ci_high:+.3f}], p={ev.p_value:.2g}, {significant}: {verdict}")
        where = ("on the challenger's evaluation split (champion rescored)" if self.rescored
                 else "on the same evaluation data")
        cmp = ">" if self.outcome == "promoted" else ("=" if self.challenger_score == self.champion_score else "<")
        return (f"{head} {self.metric}={self.challenger_score:.4f} {cmp} champion v{self.champion_version} "
                f"{self.champion_score:.4f} {where}: {verdict}")

    def tags(self) -> dict[str, str]:
        out = {DECISION_TAG: self.outcome, "gate.metric": self.metric}
        if not math.isnan(self.challenger_score):
            out["gate.challenger_score"] = repr(self.challenger_score)
        if self.champion_version is not None:
            out["gate.champion_version"] = self.champion_version
            if self.rule == BETTER:
                out["gate.evaluated_on"] = CHALLENGER_SPLIT if self.rescored else SAME_SPLIT
        if not math.isnan(self.champion_score):
            out["gate.champion_score"] = repr(self.champion_score)
        if self.reason:
            out["gate.reason"] = self.reason
        if self.method:
            out["gate.method"] = self.method
        ev = self.evidence
        if ev is not None:
            out["gate.evaluated_on"] = ev.evaluated_on
            if ev.rows is not None:
                out["gate.rows"] = str(ev.rows)
            for key, value in (("gate.delta", ev.delta), ("gate.delta_ci_low", ev.ci_low),
                               ("gate.delta_ci_high", ev.ci_high), ("gate.p_value", ev.p_value)):
                if not math.isnan(value):
                    out[key] = repr(value)
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


def _logged_split(client: MlflowClient, run: Run, whose: str) -> Split:
    """The run's held-out split, regenerated from its logged config (its data must hash as they did)."""
    from runner.track import logged

    try:
        return logged.split(client, run)
    except logged.DataChanged:
        raise ValueError(f"the {whose}'s data no longer regenerate identically from its logged config") from None


def _predicted(mv: ModelVersion, split: Split) -> pd.DataFrame:
    """The registered model's predictions of the split's held-out rows (the layout of predictions/holdout.parquet)."""
    import mlflow.sklearn
    import numpy as np

    from runner.train import evaluate

    model = mlflow.sklearn.load_model(f"models:/{mv.name}/{mv.version}")
    return evaluate.prediction_frame(split.X_test.index, split.y_test.to_numpy(), model.predict(split.X_test),
                                     model.predict_proba(split.X_test), np.asarray(model.classes_))


def rescore(client: MlflowClient, champion: tuple[ModelVersion, Run], challenger_run: Run, metric: str) -> float:
    """The champion's `metric` on the challenger's held-out split (regenerated from its config)."""
    import mlflow.sklearn
    import numpy as np

    from runner.train import evaluate

    split = _logged_split(client, challenger_run, "challenger")
    mv = champion[0]
    model = mlflow.sklearn.load_model(f"models:/{mv.name}/{mv.version}")
    y_pred = model.predict(split.X_test)
    proba = model.predict_proba(split.X_test)
    scores = evaluate.scores(split.y_test, y_pred, proba, np.asarray(model.classes_))
    return scores.get(metric, math.nan)


def holdout_predictions(client: MlflowClient, version: tuple[ModelVersion, Run]) -> pd.DataFrame:
    """A version's held-out predictions: its run's logged predictions/holdout.parquet, or, for a run logged
    before they were, rebuilt (its split regenerated from its config, predicted by its registered model)."""
    from runner.track import predictions

    mv, run = version
    frame = predictions.load(client, run.info.run_id, run.info.artifact_uri)  # read in place when local
    if frame is not None:
        return frame
    log.info("%s v%s: run %s has no %s; rebuilding its held-out predictions", mv.name, mv.version,
             run.info.run_id, names.HOLDOUT_PREDICTIONS)
    return _predicted(mv, _logged_split(client, run, f"v{mv.version} run"))


def _opening(client: MlflowClient, name: str, version: str, metric: str
             ) -> tuple[Decision | None, tuple[ModelVersion, Run], float, str]:
    """The decisions that need no comparison: first champion, already the champion."""
    challenger = _version_data(client, name, version)
    score = challenger[1].data.metrics.get(metric, math.nan)
    current = client.get_registered_model(name).aliases.get(CHAMPION)
    if current is None:
        client.set_registered_model_alias(name, CHAMPION, version)
        return Decision(name, version, "first", metric, score), challenger, score, ""
    current = str(current)
    if current == str(version):
        return (Decision(name, version, "kept", metric, score, current, score, reason="already the champion"),
                challenger, score, current)
    return None, challenger, score, current


def decide(client: MlflowClient, name: str, version: str, metric: str, settings: GateSettings | None = None) -> Decision:
    """Compare `version` with the current champion by `settings.rule` and move the alias when it wins.

    The caller holds `decision_lock`.
    """
    settings = settings or GateSettings()
    if settings.rule == BETTER:
        return _decide_better(client, name, version, metric, settings)
    return _decide_significant(client, name, version, metric, settings)


def _decide_better(client: MlflowClient, name: str, version: str, metric: str, settings: GateSettings) -> Decision:
    """registry.gate=better: any strict win on the same evaluation data moves `champion`."""
    done, challenger, score, current = _opening(client, name, version, metric)
    if done is not None:
        return done
    method = settings.method
    champion = _version_data(client, name, current)
    if math.isnan(score):
        return Decision(name, version, "kept", metric, score, current,
                        reason=f"it has no {metric} (was it evaluated on this kind of data?)", method=method)
    rescored = not same_evaluation(champion, challenger)
    if rescored:
        try:
            theirs = rescore(client, champion, challenger[1], metric)
        except Exception as e:  # e.g. the champion expects other columns: no comparison, no move
            return Decision(name, version, "kept", metric, score, current, rescored=True, method=method,
                            reason=f"the champion cannot be scored on its evaluation data ({exception_line(e)})")
    else:
        theirs = champion[1].data.metrics.get(metric, math.nan)
    if math.isnan(theirs):
        return Decision(name, version, "kept", metric, score, current, theirs, rescored, method=method,
                        reason=f"the champion has no {metric} on this evaluation data to compare with")
    if score > theirs:
        client.set_registered_model_alias(name, CHAMPION, version)
        return Decision(name, version, "promoted", metric, score, current, theirs, rescored, method=method)
    return Decision(name, version, "kept", metric, score, current, theirs, rescored, method=method)


def _rows_both_scored(client: MlflowClient, champion: tuple[ModelVersion, Run],
                      challenger: tuple[ModelVersion, Run], evaluated_on: str) -> Paired:
    """Both models' predictions on the rows neither trained on (raises with a reason when there are none)."""
    from runner.track import predictions

    ours = holdout_predictions(client, challenger)
    if evaluated_on == CHALLENGER_SPLIT:
        theirs = _predicted(champion[0], _logged_split(client, challenger[1], "challenger"))
    else:
        theirs = holdout_predictions(client, champion)
    return predictions.paired(theirs, ours)


def _too_few(evaluated_on: str, n: int, champion: tuple[ModelVersion, Run], settings: GateSettings) -> str:
    """Why a comparison on n rows is refused, and what to do about it (part of one line)."""
    current = champion[0].version
    floor = f"registry.min_rows={settings.min_rows}"
    if evaluated_on == COMMON_ROWS:
        params = champion[1].data.params
        how = " ".join(f"{p}={params[p]}" for p in SPLIT_PARAMS if p in params)
        hint = f"; split it as the champion was ({how}) to compare them" if how else ""
        return (f"only {n} held-out rows are common to it and champion v{current} ({floor}): "
                f"neither may be scored on rows it trained on{hint}")
    if evaluated_on == SAME_SPLIT:
        return (f"its {n} held-out rows, shared with champion v{current}, are fewer than {floor}: too few to tell "
                f"them apart (hold out more rows with dataset.test_size, or lower registry.min_rows)")
    return (f"the challenger's {n} held-out rows are fewer than {floor}: too few to tell it from champion "
            f"v{current} (hold out more rows with dataset.test_size, or lower registry.min_rows)")


def _decide_significant(client: MlflowClient, name: str, version: str, metric: str,
                        settings: GateSettings) -> Decision:
    """registry.gate=significant: a one-sided paired bootstrap test on rows neither model trained on."""
    import numpy as np

    from runner.train.uncertainty import metric_samples, paired_bootstrap

    done, challenger, score, current = _opening(client, name, version, metric)
    if done is not None:
        return done
    method = settings.method
    champion = _version_data(client, name, current)

    def kept(reason: str, evidence: Evidence | None = None) -> Decision:
        return Decision(name, version, "kept", metric, score, current, reason=reason, evidence=evidence,
                        method=method, rule=SIGNIFICANT,
                        rescored=evidence is not None and evidence.evaluated_on == CHALLENGER_SPLIT)

    if math.isnan(score):
        return kept(f"it has no {metric} (was it evaluated on this kind of data?)")
    digest = _digest(*champion)
    if digest and digest == _digest(*challenger):
        evaluated_on = SAME_SPLIT if same_evaluation(champion, challenger) else COMMON_ROWS
    else:
        evaluated_on = CHALLENGER_SPLIT
    try:
        with quiet_downloads():
            pair = _rows_both_scored(client, champion, challenger, evaluated_on)
    except Exception as e:  # unloadable model, data that no longer regenerate, other columns, other classes
        what = ("the champion cannot be scored on its evaluation data" if evaluated_on == CHALLENGER_SPLIT
                else "the two cannot be scored on the same rows")
        return kept(f"{what} ({exception_line(e)})", Evidence(evaluated_on, None))
    n = pair.n_rows
    evidence = Evidence(evaluated_on, n, confidence=settings.confidence, min_delta=settings.min_delta)
    if n < settings.min_rows:
        return kept(_too_few(evaluated_on, n, champion, settings), evidence)
    classes = np.asarray(pair.classes)
    present = {str(y) for y in pair.y_true}
    missing = [c for c in pair.classes if str(c) not in present]
    if missing:
        return kept(f"the {n} rows both can be scored on hold no row of class {', '.join(map(str, missing))}: "
                    f"no fair comparison of {metric} there", evidence)
    try:  # the metric alone, as runner.train.evaluate.scores defines it (the same numbers, exactly)
        theirs, ours = (float(metric_samples(pair.y_true, pred, proba, classes, np.ones((1, n)), [metric])[metric][0])
                        for pred, proba in (pair.a, pair.b))
    except ValueError as e:
        return kept(f"{metric} cannot be computed on the {n} rows both can be scored on ({exception_line(e)})", evidence)
    if math.isnan(theirs) or math.isnan(ours):
        return kept(f"{metric} is not defined on the {n} rows both can be scored on", evidence)
    result = paired_bootstrap(pair.y_true, pair.a, pair.b, classes, metric,
                              n_resamples=settings.resamples, confidence=settings.confidence, seed=settings.seed,
                              min_delta=settings.min_delta)
    evidence = Evidence(evaluated_on, n, result.delta, result.ci_low, result.ci_high, result.p_value,
                        settings.confidence, settings.min_delta)
    wins = result.p_value <= settings.alpha and result.delta > settings.min_delta
    if wins:
        client.set_registered_model_alias(name, CHAMPION, version)
    return Decision(name, version, "promoted" if wins else "kept", metric, ours, current, theirs,
                    rescored=evaluated_on == CHALLENGER_SPLIT, evidence=evidence, method=method, rule=SIGNIFICANT)


def gate(client: MlflowClient, uri: str, name: str, version: str, metric: str, enabled: bool = True,
         settings: GateSettings | None = None) -> Decision | None:
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
        decision = decide(client, name, str(version), metric, settings)
        set_version_tags(client, name, str(version), decision.tags())
    print(decision.line(), flush=True)
    return decision


def set_version_tags(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    """Each tag on the version: the first through MlflowClient.set_model_version_tag, which checks that `name`
    is a registered model and not a prompt, the rest through its registry client, which does not read the
    registered model again for each one (a decision's ~11 tags: ~60 -> ~15 ms on SQLite). Each write waits out a
    locked store. Without that client (another MLflow), every tag goes through the public method."""
    from runner.track import store

    items = list(tags.items())
    if not items:
        return
    key, value = items[0]
    client.set_model_version_tag(name, version, key, value)
    registry = getattr(client, "_get_registry_client", None)
    if registry is None:
        for key, value in items[1:]:
            client.set_model_version_tag(name, version, key, value)
        return
    inner = registry()
    for key, value in items[1:]:
        store.waiting_for_lock(functools.partial(inner.set_model_version_tag, name, version, key, value),
                               client.tracking_uri)


def settings_of(cfg: Any) -> GateSettings:
    """The gate's settings from a composed (or logged and merged) config; absent keys take their defaults."""
    from omegaconf import OmegaConf

    def get(key: str, default: Any) -> Any:
        value = OmegaConf.select(cfg, key, default=default) if OmegaConf.is_config(cfg) else _attr(cfg, key, default)
        return default if value is None else value

    defaults = GateSettings()
    return GateSettings(rule=str(get("registry.gate", defaults.rule)),
                        min_delta=float(get("registry.min_delta", defaults.min_delta)),
                        alpha=float(get("registry.alpha", defaults.alpha)),
                        min_rows=int(get("registry.min_rows", defaults.min_rows)),
                        resamples=int(get("eval.bootstrap", defaults.resamples)),
                        confidence=float(get("eval.confidence", defaults.confidence)),
                        seed=int(get("seed", defaults.seed)))


def _attr(obj: Any, dotted: str, default: Any) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return default
    return obj
