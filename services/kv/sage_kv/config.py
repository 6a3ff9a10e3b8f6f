"""Configuration of the KV service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sage_runtime.config import ServiceConfig


class KVConfig(ServiceConfig):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_sentinels: list[str] = Field(
        default_factory=list,
        description="host:port of Redis Sentinels: the primary is found (and found again after "
        "a failover) through them; redis_url then gives only the user, password and db",
    )
    redis_master_name: str = Field(
        default="sage", min_length=1, description="the primary's name the sentinels monitor"
    )
    redis_wait_replicas: int = Field(
        default=0,
        ge=0,
        le=16,
        description="a write is acknowledged once this many replicas hold it (Redis WAIT); "
        "with appendfsync always a failover then loses no acknowledged write",
    )
    redis_wait_timeout_ms: int = Field(default=1000, ge=1, le=60000)
    max_key_bytes: int = Field(default=1024, ge=1, le=65536)
    max_value_bytes: int = Field(default=4 * 1024 * 1024, ge=1, le=512 * 1024 * 1024)
    max_batch_keys: int = Field(default=10000, ge=1, le=1_000_000)
