"""How memories lie in the KV namespace.

    m/<id>                               -> Memory (serialized): the commit point of a store
    s/<session>/<inverted ms>-<id>       -> id: the session's index, newest first in key order

A session index entry without its ``m/`` record is a store that never committed and is skipped.
Sessions are percent-encoded so that one session's prefix never covers another's.
"""
from __future__ import annotations

from urllib.parse import quote

_TIME_SPAN = 1 << 48  # milliseconds; past the year 10000


def record_key(memory_id: str) -> str:
    return f"m/{memory_id}"


def session_prefix(session_id: str) -> str:
    return f"s/{quote(session_id, safe='')}/"


def session_entry_key(session_id: str, created_ms: int, memory_id: str) -> str:
    return f"{session_prefix(session_id)}{_TIME_SPAN - created_ms:012x}-{memory_id}"


def memory_id_of_entry(key: str) -> str:
    return key.rsplit("-", 1)[-1]
