"""Hydra's composition errors as the one line a user reads.

Hydra reports a bad override over several lines (search path, `full_key:`, `object_type=`).
runner.cli.run asks Hydra to raise instead (it sets HYDRA_FULL_ERROR for itself) and prints `error_line(e)`;
a user who sets HYDRA_FULL_ERROR=1 still gets Hydra's full traceback.
"""
from __future__ import annotations

import difflib
import re
from typing import Any

_CONVERT = {  # what OmegaConf 2.3 says of a value its type refuses -> the rule it broke
    "converted to Integer": "must be an integer",
    "converted to Float": "must be a number",
    "is not a valid bool": "must be true or false",
    "to string:": "must be a string",
}


def _clean(text: str) -> str:
    """Drop OmegaConf's `full_key:`/`object_type=` lines and Hydra's search path; join the rest."""
    lines = []
    for line in str(text).splitlines():
        stripped = line.strip()
        if stripped.startswith(("full_key:", "object_type=", "reference_type=", "See https://hydra.cc")):
            continue
        if stripped.startswith("Config search path"):
            break
        if stripped:
            lines.append(stripped)
    return "; ".join(lines)


def _missing_group(e: Any) -> str | None:
    """`model=nonexistent` -> "model=nonexistent: no such option; available: logreg, rf, xgb"."""
    text = str(e)
    m = re.search(r"Could not (?:find|load) '([^']+)/([^'/]+)'", text)
    if not m:
        return None
    group, name = m.group(1).replace("/", "."), m.group(2)
    options = list(getattr(e, "options", None) or [])
    if not options:
        block = re.search(r"Available options in '[^']+':\n((?:\t.*\n?)+)", text)
        options = [o.strip() for o in block.group(1).splitlines()] if block else []
    allowed = f"available: {', '.join(options)}" if options else "no options found"
    return f"{group}={name}: no such {group} config; {allowed}"


def _unknown_key(e: Any) -> str | None:
    """`model.n_estimatorz=5` -> the key, its value and the keys the node does take."""
    m = re.search(r"Could not override '([^']+)'", str(e))
    cause = e.__cause__
    if not m or cause is None or "not in struct" not in str(cause):
        return None
    key = m.group(1)
    add = re.search(r"use \+(\S+)", str(e))
    value = add.group(1).split("=", 1)[1] if add and "=" in add.group(1) else "?"
    parent = getattr(cause, "parent_node", None)
    keys = []
    if parent is not None and hasattr(parent, "keys"):
        keys = [str(k) for k in parent if not str(k).startswith("_")]
    node, _, leaf = key.rpartition(".")
    takes = f"; {node} takes: {', '.join(keys)}" if keys and node else ""
    close = difflib.get_close_matches(leaf, keys, n=1, cutoff=0.75)
    if close:
        return f"{key}={value}: unknown key; did you mean {node}.{close[0]}={value}?{takes}"
    # An argument the option's file does not set yet (e.g. model=rf +model.max_features=sqrt) is added with +.
    return f"{key}={value}: unknown key{takes}; to pass an argument the option does not set yet: +{key}={value}"


def _append_existing(e: Any) -> str | None:
    """`+model.min_samples_leaf=5` where the option sets it already -> drop the +."""
    m = re.search(r"An item is already at '([^']+)'", str(e))
    if not m:
        return None
    key = m.group(1)
    value = re.search(rf"'{re.escape(key)}=([^']*)'", str(e))
    shown = f"{key}={value.group(1)}" if value else key
    return f"+{shown}: {key} is already set by the config; drop the +: {shown}"


def _bad_value(e: Any) -> str | None:
    """`seed=abc` -> "seed=abc: must be an integer (Value 'abc' ... Integer)"."""
    m = re.search(r"Error merging override (\S+)", str(e))
    if not m:
        return None
    cause = _clean(str(e.__cause__)) if e.__cause__ is not None else ""
    for said, rule in _CONVERT.items():
        if said in cause:
            return f"{m.group(1)}: {rule} ({cause})"
    return f"{m.group(1)}: {cause}" if cause else None


def error_line(e: BaseException) -> str:
    """The message of a Hydra composition or override error, on one line."""
    for rule in (_missing_group, _unknown_key, _append_existing, _bad_value):
        text = rule(e)
        if text:
            return text
    text = _clean(str(e))
    if type(e).__name__ == "OverrideParseException":
        return f"cannot parse an override: {text} (see https://hydra.cc/docs/advanced/override_grammar/basic)"
    if e.__cause__ is not None and str(e.__cause__) and _clean(str(e.__cause__)) not in text:
        text = f"{text}: {_clean(str(e.__cause__))}"
    return text or type(e).__name__
