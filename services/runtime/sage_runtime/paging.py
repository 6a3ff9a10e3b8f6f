"""Page tokens: the last key of a page, URL-safe base64, decoded strictly.

``base64.urlsafe_b64decode`` drops characters outside its alphabet, so a garbage token used to
decode to ``""`` and silently restart paging from the first page. ``decode_key_token`` accepts only
what ``encode_key_token`` produces (canonical padded base64 of a non-empty UTF-8 key, starting
with the listing's prefix when it has one) and otherwise raises INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

import base64
import binascii

from sage_runtime import errors as err

MAX_TOKEN = 8192


def encode_key_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_key_token(token: str, rpc: str, prefix: str = "", field: str = "page_token") -> str:
    """The key a token returned by ``rpc`` resumes after; "" for an empty token (the first page)."""
    if not token:
        return ""
    try:
        if len(token) > MAX_TOKEN:
            raise ValueError("too long")
        raw = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        key = raw.decode("utf-8")
        if not key or encode_key_token(key) != token or not key.startswith(prefix):
            raise ValueError("not canonical")
    except (ValueError, UnicodeError, binascii.Error):
        raise err.invalid_argument(
            field,
            f"{field} is not a next_page_token returned by {rpc} for this listing; "
            "pass that token unchanged, or empty for the first page",
        ) from None
    return key
