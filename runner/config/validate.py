"""Checks of a composed config that need no data: what may be built and the top-level choices.

Each failure is a `UserError` naming the key, the bad value and what is allowed. Checks that need
the data (or the dataset's own parameters) are runner.train.checks.
"""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from runner.config import allowlist
from runner.config.schema import EVAL_KINDS, LABEL_METRICS, MAIN_METRICS
from runner.errors import UserError

GATE_CHOICES = ("significant", "better")  # registry.gate (runner.registry.gate)


# Top-level keys besides the schema's: free-form notes (never read) go under `extra`.
FREE_KEYS = ("extra",)


def config(cfg: DictConfig) -> None:
    """No key the runner does not read; what may be built; the metric to optimise and the registration choice."""
    known_keys(cfg)
    allowlist.check(cfg)
    if cfg.optimized_metric not in MAIN_METRICS:
        raise UserError(f"optimized_metric={cfg.optimized_metric!r}: allowed: {', '.join(MAIN_METRICS)}")
    register = cfg.registry.register
    if not (isinstance(register, bool) or register == "best"):  # true, false or best (not `in (True, False, "best")`: 1 == True)
        raise UserError(f"registry.register={cfg.registry.register!r}: allowed: true, false, best")
    registry_gate(cfg.registry)
    evaluation(cfg.eval)
    decisions(cfg)


def known_keys(cfg: DictConfig) -> None:
    """A key added with + or ++ that the runner never reads is a typo, not a no-op: refused in one line."""
    import dataclasses
    import difflib

    from runner.config.schema import Config

    known = [f.name for f in dataclasses.fields(Config)]
    for key in map(str, cfg):
        if key not in known and key not in FREE_KEYS:
            path, value = key, cfg.get(key)
            while isinstance(value, DictConfig) and len(value):  # +foo.bar=1: show what was typed
                first = str(next(iter(value)))
                path, value = f"{path}.{first}", value.get(first)
            shown = f"+{path}={value}"
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"free-form notes go under extra.* (+extra.{key}=...)"
            raise UserError(f"{shown}: no config group or key {key!r}; {hint}")
    sampler = cfg.get("sampler")
    if isinstance(sampler, DictConfig) and sampler.get("_target_") is None:
        extra = [str(k) for k in sampler if k != "_target_"]
        if extra:
            raise UserError(f"sampler.{extra[0]}={sampler.get(extra[0])}: sampler=none takes no arguments; "
                            "choose a sampler (e.g. sampler=smote) or drop the argument")


def decisions(cfg: DictConfig) -> None:
    """preprocess, weighting, calibration and threshold: known options and sensible arguments."""
    choices = {"preprocess": ("kind", ("none", "standard", "robust")), "weighting": ("kind", ("none", "balanced")),
               "calibration": ("method", ("none", "sigmoid", "isotonic")), "threshold": ("kind", ("none", "tuned"))}
    for group, (key, allowed) in choices.items():
        value = cfg.get(group, {}).get(key, "none")
        if value not in allowed:
            raise UserError(f"{group}.{key}={value!r}: allowed: {', '.join(allowed)} ({group}={allowed[-1]}, ...)")
        if value != "none" and group in ("calibration", "threshold"):
            _integer(f"{group}.folds", cfg[group].get("folds"), 2)
    if cfg.get("threshold", {}).get("kind") == "tuned":
        metric, min_recall = cfg.threshold.get("metric"), cfg.threshold.get("min_recall")
        if metric not in LABEL_METRICS:
            raise UserError(f"threshold.metric={metric!r}: a threshold is tuned for a metric of labels; "
                            f"allowed: {', '.join(LABEL_METRICS)}")
        if min_recall is not None and (isinstance(min_recall, bool) or not isinstance(min_recall, (int, float))
                                       or not 0 < min_recall <= 1):
            raise UserError(f"threshold.min_recall={min_recall!r}: must be a number in (0, 1], e.g. 0.8")


def registry_gate(reg: Any) -> None:
    """registry.gate, registry.min_delta, registry.alpha and registry.min_rows (the promotion gate)."""
    import math

    rule = reg.get("gate", "significant")
    if rule not in GATE_CHOICES:
        raise UserError(f"registry.gate={rule!r}: allowed: {', '.join(GATE_CHOICES)}")
    min_delta = reg.get("min_delta", 0.0)
    if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta):
        raise UserError(f"registry.min_delta={min_delta!r}: must be a finite number, e.g. 0.0 or 0.01")
    alpha = reg.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise UserError(f"registry.alpha={alpha!r}: must be a number in (0, 1), e.g. 0.05")
    _integer("registry.min_rows", reg.get("min_rows", 50), 1)


def _integer(key: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise UserError(f"{key}={value!r}: must be an integer >= {low}")


def evaluation(ev: Any) -> None:
    """eval.kind, its resamples, confidence, folds and repeats."""
    if ev.get("kind") not in EVAL_KINDS:
        raise UserError(f"eval.kind={ev.get('kind')!r}: allowed: {', '.join(EVAL_KINDS)} (eval=holdout or eval=cv)")
    _integer("eval.bootstrap", ev.get("bootstrap"), 1)
    confidence = ev.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise UserError(f"eval.confidence={confidence!r}: must be a number in (0, 1), e.g. 0.95")
    if ev.kind == "cv":
        _integer("eval.folds", ev.get("folds"), 2)
        _integer("eval.repeats", ev.get("repeats"), 1)
