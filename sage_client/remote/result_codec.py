"""Job results as JSON: a client reads them without unpickling anything a server sent.

Each record that reached a sink travels as one JSON text. Plain JSON values map to
themselves; the few Python values JSON lacks are tagged objects of one key:
``{"$tuple": [...]}``, ``{"$bytes": "<base64>"}``, ``{"$float": "nan" | "inf" | "-inf"}``
and ``{"$dict": [[key, value], ...]}`` (a dict whose keys are not all strings, or whose only
key looks like a tag). Anything else (a dataclass, a numpy array...) is not representable:
``encode_record`` raises ResultEncodingError naming its type; map records to plain values
before the sink.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

TAGS = ("$tuple", "$bytes", "$float", "$dict")
MAX_DEPTH = 100


class ResultEncodingError(ValueError):
    """A collected record that JSON cannot carry."""


class ResultDecodingError(ValueError):
    """A record text that is not one ``encode_record`` writes."""


def _encode(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ResultEncodingError(f"nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, list):
        return [_encode(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, depth + 1) for v in value]}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and next(iter(value)) in TAGS
        ):
            return {k: _encode(v, depth + 1) for k, v in value.items()}
        return {"$dict": [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in value.items()]}
    raise ResultEncodingError(
        f"a {type(value).__module__}.{type(value).__qualname__} is not JSON-representable "
        "(results carry None, bool, int, float, str, bytes, list, tuple and dict)"
    )


def encode_record(record: Any) -> str:
    return json.dumps(_encode(record, 0), allow_nan=False, separators=(",", ":"))


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, body),) = value.items()
        if tag == "$tuple" and isinstance(body, list):
            return tuple(_decode(v) for v in body)
        if tag == "$bytes" and isinstance(body, str):
            return base64.b64decode(body, validate=True)
        if tag == "$float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "$dict" and isinstance(body, list):
            if not all(isinstance(p, list) and len(p) == 2 for p in body):
                raise ResultDecodingError("$dict holds [key, value] pairs")
            return {_hashable(_decode(k)): _decode(v) for k, v in body}
    return {k: _decode(v) for k, v in value.items()}


def decode_record(text: str) -> Any:
    """The record ``encode_record`` wrote; plain JSON, never code."""
    try:
        return _decode(json.loads(text))
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ResultDecodingError):
            raise
        raise ResultDecodingError(f"not a job result record: {exc}") from None
