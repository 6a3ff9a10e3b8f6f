"""What the memory service and the in-process memory share: memory ids, the reserved
vector-metadata fields, the session filter and the similarity/recency ranking."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Vector metadata written next to the user's fields; user keys may not start with the prefix.
RESERVED_PREFIX = "_sage_"
SESSION_FIELD = "_sage_session"
CREATED_FIELD = "_sage_created_ms"
MAX_SESSION = 256
MAX_TOP_K = 100


def memory_id(session_id: str, idempotency_key: str) -> str:
    """A retry with the same key must land on the same id, so the id is derived from the key;
    without a key every store gets a fresh one."""
    if not idempotency_key:
        return uuid.uuid4().hex
    digest = hashlib.sha256(f"{session_id}\0{idempotency_key}".encode()).hexdigest()
    return digest[:32]


def session_filter(session_id: str, where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The user's Chroma-style filter restricted to one session (either may be absent)."""
    clauses: list[dict[str, Any]] = []
    if session_id:
        clauses.append({SESSION_FIELD: session_id})
    if where:
        clauses.append(dict(where))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def reserved_keys(metadata_keys: Sequence[str]) -> list[str]:
    return [k for k in metadata_keys if k.startswith(RESERVED_PREFIX)]


def recency(age_s: float, half_life_s: float) -> float:
    """1 for a memory stored now, halving every ``half_life_s``."""
    return float(0.5 ** (max(0.0, age_s) / half_life_s))


@dataclass(frozen=True)
class Candidate:
    id: str
    similarity: float
    created_ms: int


def candidates_for(top_k: int, recency_weight: float) -> int:
    """How many nearest neighbours to fetch: re-ranking by recency needs a wider pool."""
    return top_k if recency_weight <= 0 else min(1000, max(top_k * 4, 50))


def rank(
    candidates: Sequence[Candidate],
    top_k: int,
    recency_weight: float,
    now_ms: int,
    half_life_s: float,
) -> list[tuple[Candidate, float]]:
    """Score = (1 - w) * cosine similarity + w * recency; best first."""
    w = recency_weight
    scored = [
        (c, (1.0 - w) * c.similarity + w * recency((now_ms - c.created_ms) / 1000.0, half_life_s))
        for c in candidates
    ]
    scored.sort(key=lambda pair: pair[1], reverse=True)
    return scored[:top_k]
