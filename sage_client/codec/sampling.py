"""Sampling parameters: their names are ``llm.proto``'s ``SamplingParams`` fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sage_proto.llm.v1 import llm_pb2

_FIELDS = llm_pb2.SamplingParams.DESCRIPTOR.fields
SAMPLING_FIELDS: tuple[str, ...] = tuple(f.name for f in _FIELDS)
# The optional scalars (HasField tells whether one was sent); ``stop`` is the repeated one.
SCALAR_SAMPLING_FIELDS: tuple[str, ...] = tuple(f.name for f in _FIELDS if f.has_presence)


def sampling_message(params: Mapping[str, Any]) -> llm_pb2.SamplingParams:
    """``{"temperature": 0.2, "stop": "\\n", ...}`` as the message; None values are left unset."""
    unknown = set(params) - set(SAMPLING_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown sampling parameter(s) {sorted(unknown)}; known: {list(SAMPLING_FIELDS)}"
        )
    msg = llm_pb2.SamplingParams()
    for name, value in params.items():
        if value is None:
            continue
        if name == "stop":
            msg.stop.extend([value] if isinstance(value, str) else list(value))
        else:
            setattr(msg, name, value)
    return msg
