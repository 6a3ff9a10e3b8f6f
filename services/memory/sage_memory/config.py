"""Configuration of the memory service (YAML file and SAGE_* environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sage_client.codec.embedding import EMBEDDING_DIMENSION, EMBEDDING_MODEL
from sage_runtime.config import ServiceConfig


class MemoryConfig(ServiceConfig):
    kv_namespace: str = Field(
        default="sage-memory",
        min_length=1,
        max_length=256,
        description="KV namespace holding memory records",
    )
    collection: str = Field(
        default="sage_memories",
        pattern=r"^[A-Za-z0-9_-]{1,128}$",
        description="VDB collection holding memory vectors (created when missing)",
    )
    dimension: int = Field(
        default=EMBEDDING_DIMENSION,
        ge=1,
        le=65536,
        description=f"vector dimension ({EMBEDDING_MODEL}: {EMBEDDING_DIMENSION})",
    )
    embedding_model: str = Field(
        default="", description="LLM service embedding model; empty = its default"
    )
    vdb_durability: Literal["async", "sync"] = Field(
        default="async", description="async survives a killed process, sync also a power loss"
    )
    recency_half_life_s: float = Field(
        default=86400.0, gt=0.0, description="age at which a memory's recency score halves"
    )
    orphan_grace_s: float = Field(
        default=60.0, ge=0.0, description="a vector without a KV record older than this is garbage"
    )
    orphan_sweep_interval_s: float = Field(
        default=600.0,
        ge=0.0,
        description="how often the session index is swept for stores that never committed "
        "(their vector and index entry are removed); 0 = never",
    )
    dependency_timeout_s: float = Field(default=5.0, gt=0.0, le=300.0)
    max_content_bytes: int = Field(default=64 * 1024, ge=1, le=16 * 1024 * 1024)
    kv_address: str = Field(default="", description="static KV address; empty = discovery")
    vdb_address: str = Field(default="", description="static VDB address; empty = discovery")
    llm_address: str = Field(default="", description="static LLM address; empty = discovery")
