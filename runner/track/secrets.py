"""Secrets never reach the store: values under secret-looking keys and credentials inside URIs are hidden."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SECRET_WORDS = ("password", "passwd", "token", "secret", "key", "credential")
REDACTED = "***"

# `\?`: Hydra escapes `:` in the overrides it records (`postgresql\://alice\:pw@host`)
_URI_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*\\?://)[^/@\s]+@")
_SECRET_ASSIGNMENT = re.compile(
    r"""([\w.+~-]*(?:{})[\w.-]*=)('[^']*'|"[^"]*"|\S+)""".format("|".join(SECRET_WORDS)), re.IGNORECASE
)


def redact(key: str, value: Any) -> Any:
    """Hide values under secret-looking keys and credentials inside URIs."""
    leaf = key.rsplit(".", 1)[-1].lower()
    if any(word in leaf for word in SECRET_WORDS) and value is not None:
        return REDACTED
    if isinstance(value, str) and "://" in value and "@" in value:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(value)
        if parts.password or parts.username:
            host = parts.netloc.rpartition("@")[2]  # as written: an IPv6 literal keeps its brackets
            return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))
    return value


def redact_text(text: str) -> str:
    """Hide secrets in free text (an override, a failure message): `x.api_token=...` and URI credentials."""
    text = _URI_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}@", str(text))
    return _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def redacted_config(resolved: Any, prefix: str = "") -> Any:
    """The resolved config with secrets hidden, structure kept (for the YAML artifact)."""
    if isinstance(resolved, Mapping):
        return {k: redacted_config(v, f"{prefix}.{k}" if prefix else str(k)) for k, v in resolved.items()}
    if isinstance(resolved, list):
        return [redacted_config(v, prefix) for v in resolved]
    return redact(prefix, resolved)
