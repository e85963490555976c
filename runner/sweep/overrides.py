"""Values written back as Hydra overrides: the one quoter, in the grammar Hydra itself reads back."""
from __future__ import annotations

import re
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z0-9_./:-]+$")


def quoted(value: str) -> str:
    """A string as a single-quoted Hydra override value (URIs hold ':', '=', ',' and spaces).

    In Hydra's quoted strings only backslashes that precede a quote (or end the string) need escaping.
    """
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    return "'" + re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped) + "'"


def value(v: Any) -> str:
    """Any config value in Hydra's override grammar: null, true/false, numbers, lists, plain or quoted text."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(value(x) for x in v) + "]"
    s = str(v)
    if _PLAIN.match(s) and s not in ("null", "true", "false"):
        return s
    return quoted(s)
