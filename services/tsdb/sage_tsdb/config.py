"""Configuration of the TSDB service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sage_runtime.config import ServiceConfig


class TSDBConfig(ServiceConfig):
    fsync: Literal["always", "group", "none"] = Field(
        default="group",
        description="the log's policy for writes that ask for no durability; a DURABILITY_SYNC "
        "write is fsynced before it is acknowledged whatever this says",
    )
    max_write_points: int = Field(
        default=1_000_000, ge=1, le=100_000_000, description="points in one Write call"
    )
    max_query_points: int = Field(
        default=1_000_000, ge=1, le=100_000_000, description="points one Query returns at most"
    )
    max_join_events: int = Field(
        default=100_000, ge=1, le=10_000_000, description="events in one StreamJoin message"
    )
    snapshot_wal_bytes: int = Field(
        default=256 << 20, ge=1 << 20, le=1 << 40, description="snapshot past this log size"
    )
    threads: int = Field(
        default=0, ge=0, le=1024, description="threads for the native calls; 0 = one per core"
    )
