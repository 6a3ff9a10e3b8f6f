"""A small pure-Python evaluator of Chroma-shaped filters: the specification the native
filters are checked against (missing fields never equal anything; lists mean "contains")."""

from __future__ import annotations

from typing import Any


def _equal(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, list):
        return any(_equal(item, wanted) for item in stored)
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    if isinstance(stored, str) or isinstance(wanted, str):
        return isinstance(stored, str) and isinstance(wanted, str) and stored == wanted
    return float(stored) == float(wanted)


def _compare(stored: Any, op: str, wanted: float) -> bool:
    if stored is None or isinstance(stored, bool | str | list):
        return False
    return {
        "$gt": stored > wanted,
        "$gte": stored >= wanted,
        "$lt": stored < wanted,
        "$lte": stored <= wanted,
    }[op]


def matches(where: dict[str, Any], metadata: dict[str, Any]) -> bool:
    for key, cond in where.items():
        if key == "$and":
            ok = all(matches(c, metadata) for c in cond)
        elif key == "$or":
            ok = any(matches(c, metadata) for c in cond)
        else:
            ops = cond if isinstance(cond, dict) else {"$eq": cond}
            stored = metadata.get(key)
            ok = all(_leaf(stored, op, operand) for op, operand in ops.items())
        if not ok:
            return False
    return True


def _leaf(stored: Any, op: str, operand: Any) -> bool:
    present = stored is not None
    if op == "$eq":
        return present and _equal(stored, operand)
    if op == "$ne":
        return not (present and _equal(stored, operand))
    if op == "$in":
        return present and any(_equal(stored, v) for v in operand)
    if op == "$nin":
        return not (present and any(_equal(stored, v) for v in operand))
    return _compare(stored, op, operand)


def document_matches(where_document: dict[str, Any], document: str | None) -> bool:
    text = document or ""
    for key, cond in where_document.items():
        if key == "$and":
            ok = all(document_matches(c, document) for c in cond)
        elif key == "$or":
            ok = any(document_matches(c, document) for c in cond)
        elif key == "$contains":
            ok = document is not None and cond in text
        else:  # $not_contains
            ok = not (document is not None and cond in text)
        if not ok:
            return False
    return True
