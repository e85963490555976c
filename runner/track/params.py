"""A resolved config as MLflow params: every leaf under its dotted key, redacted, within MLflow's limits."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.track.secrets import redact

MAX_PARAM = 6000  # MLflow's limit on a param value


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested dict/list under its dotted key (`model.C`, `dataset.weights`)."""
    if isinstance(node, Mapping):
        if not node and prefix:
            return {prefix: "{}"}
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(node, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in node):
        out = {}
        for i, v in enumerate(node):
            out.update(flatten(v, f"{prefix}.{i}"))
        return out
    return {prefix: node}


def params_of(resolved: Mapping[str, Any]) -> dict[str, str]:
    """The resolved config as MLflow params: dotted keys, redacted, within MLflow's length limit."""
    out = {}
    for key, value in flatten(resolved).items():
        text = "null" if value is None else str(redact(key, value))
        if len(text) > MAX_PARAM:
            text = text[: MAX_PARAM - 15] + "...[truncated]"
        out[key] = text
    return out
