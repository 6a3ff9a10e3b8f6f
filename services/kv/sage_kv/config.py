"""Configuration of the KV service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sage_runtime.config import ServiceConfig


class KVConfig(ServiceConfig):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    max_key_bytes: int = Field(default=1024, ge=1, le=65536)
    max_value_bytes: int = Field(default=4 * 1024 * 1024, ge=1, le=512 * 1024 * 1024)
    max_batch_keys: int = Field(default=10000, ge=1, le=1_000_000)
