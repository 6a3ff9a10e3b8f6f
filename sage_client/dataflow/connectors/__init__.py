"""Connectors: sources and sinks on external systems, as ordinary SAGE functions.

Each lives in its own module and is imported on first use, so a client library (kafka-python,
psycopg) is needed only by the connector that uses it (``pip install 'sage-mesh[connectors]'``).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "KafkaSource": "kafka",
    "RedisStreamSource": "redis_streams",
    "RedisStreamSink": "redis_streams",
    "DatabaseSink": "database",
    "APISource": "api_source",
    "StreamSource": "stream_source",
    "ConnectorError": "errors",
    "ConnectorUnavailable": "errors",
    "RecordError": "errors",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
