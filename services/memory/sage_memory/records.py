"""How memories lie in the KV namespace.

    m/<id>                               -> Memory (serialized): the commit point of a store
    s/<session>/<inverted µs>-<id>       -> id: the session's index, newest first in key order

and in the VDB collection, one point per store attempt:

    <id>-<created µs, hex>               -> the vector, session and creation time as metadata

A session index entry without its ``m/`` record is a store that never committed and is skipped.
A point is the memory's only if the record's creation time is the one in the point's id: a
retried store writes its own point, and the attempt that loses the commit never touches the
winner's. Sessions are percent-encoded so that one session's prefix never covers another's.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import quote

from sage_runtime import errors as err
from sage_runtime.paging import decode_key_token

_TIME_SPAN = 1 << 56  # microseconds; past the year 4000


def record_key(memory_id: str) -> str:
    return f"m/{memory_id}"


INDEX_PREFIX = "s/"  # every session's index entries


def session_prefix(session_id: str) -> str:
    return f"{INDEX_PREFIX}{quote(session_id, safe='')}/"


def session_entry_key(session_id: str, created_us: int, memory_id: str) -> str:
    return f"{session_prefix(session_id)}{_TIME_SPAN - created_us:014x}-{memory_id}"


def parse_entry_key(key: str) -> tuple[str, int]:
    """(memory id, creation µs) of a session index entry: the store attempt that wrote it."""
    inverted, _, memory_id = key.rsplit("/", 1)[-1].partition("-")
    return memory_id, _TIME_SPAN - int(inverted, 16)


def memory_id_of_entry(key: str) -> str:
    return parse_entry_key(key)[0]


def point_id(memory_id: str, created_us: int) -> str:
    return f"{memory_id}-{created_us:x}"


def parse_point_id(point: str) -> tuple[str, int | None]:
    """(memory id, creation µs) of a point; ``None`` for a point written before ids carried the
    time (its id is the memory id)."""
    memory_id, dash, created = point.rpartition("-")
    if not dash:
        return point, None
    try:
        return memory_id, int(created, 16)
    except ValueError:
        return point, None


def encode_page_token(session_id: str, kv_token: str) -> str:
    """The KV scan token wrapped with its session, so a token from another session (or none of
    ours) is refused instead of silently listing from a wrong place."""
    if not kv_token:
        return ""
    return base64.urlsafe_b64encode(json.dumps({"s": session_id, "k": kv_token}).encode()).decode()


def decode_page_token(session_id: str, token: str) -> str:
    if not token:
        return ""
    try:
        # validate=True: the lenient decoder drops characters outside the alphabet.
        wrapped = json.loads(base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True))
        if wrapped["s"] == session_id and isinstance(wrapped["k"], str) and wrapped["k"]:
            # The inner KV token must resume inside this session's entries.
            decode_key_token(wrapped["k"], "ListSessionMemories", prefix=session_prefix(session_id))
            return str(wrapped["k"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise err.invalid_argument(
        "page_token",
        "page_token is not the next_page_token of a previous ListSessionMemories "
        "call for this session; pass that, or empty to start",
    )
