"""Configuration of the VDB service."""

from __future__ import annotations

from pydantic import Field

from sage_runtime.config import ServiceConfig


class VDBConfig(ServiceConfig):
    max_batch_points: int = Field(
        default=65536,
        ge=1,
        le=10_000_000,
        description="points in one Upsert / UpsertStream message / GetPoints",
    )
    max_queries: int = Field(
        default=4096, ge=1, le=1_000_000, description="queries in one Search call"
    )
    max_top_k: int = Field(default=1000, ge=1, le=100_000)
    search_threads: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="native search threads, and threads for the other native calls; 0 = one per core",
    )
    llm_address: str = Field(
        default="",
        description="host:port of the LLM service for embedding; "
        "empty = discovery (SAGE_LLM_ADDR or etcd)",
    )
    embed_batch: int = Field(
        default=64, ge=1, le=4096, description="texts per Embed call to the LLM service"
    )
