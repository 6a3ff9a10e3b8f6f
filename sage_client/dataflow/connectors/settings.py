"""SAGE's connectors take one ``config`` dict; ours take keyword arguments too. One merge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def merged(
    owner: str,
    config: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
    known: Iterable[str],
    required: Iterable[str] = (),
    open_ended: bool = False,
) -> dict[str, Any]:
    """``config`` (SAGE's dict) overlaid with ``kwargs``. TypeError names an unknown or missing
    setting; ``open_ended`` keeps unknown ones (passed through to a client library)."""
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(f"{owner}: config must be a dict, got {type(config).__name__}")
    values = {**dict(config or {}), **dict(kwargs)}
    known = set(known)
    unknown = sorted(set(values) - known)
    if unknown and not open_ended:
        raise TypeError(f"{owner}: unknown setting(s) {unknown}; known: {sorted(known)}")
    missing = [name for name in required if values.get(name) in (None, "")]
    if missing:
        raise TypeError(f"{owner}: missing required setting(s) {missing}")
    return values


def positive(owner: str, name: str, value: Any, integer: bool = False) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{owner}: {name} must be {kind} > 0, got {value!r}")
    return value
