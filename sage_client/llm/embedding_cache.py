"""An on-disk cache of sentence vectors for the in-process embedder: set ``SAGE_EMBEDDING_CACHE``
to a folder and re-embedding the same text (re-ingesting a folder, re-running a pipeline over
the same documents) reads its vector back instead of running the model again.

One SQLite file per model in that folder, keyed by the SHA-256 of the text; WAL mode, so several
processes may share it. Vectors come back bit for bit as the model first returned them. Off when
the variable is unset; the mesh's LLM service is never cached here (its model is the server's)."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sage_client.codec.embedding import EMBEDDING_DIMENSION, EMBEDDING_MODEL

log = logging.getLogger("sage.embeddings")

ENV = "SAGE_EMBEDDING_CACHE"
_MAX_VARS = 500  # below SQLite's bound-parameter limit


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    def __init__(self, folder: str | Path, model: str = EMBEDDING_MODEL) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path = Path(folder) / f"{model}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
        )
        self._db.commit()

    @classmethod
    def from_env(cls) -> EmbeddingCache | None:
        """The cache ``SAGE_EMBEDDING_CACHE`` names; None when unset or when it cannot be opened
        (logged: a cache is an optimisation, never a reason for a pipeline to fail)."""
        folder = os.environ.get(ENV)
        if not folder:
            return None
        try:
            return cls(folder)
        except (OSError, sqlite3.Error) as error:
            log.warning("embedding cache %s not used: %s", folder, error)
            return None

    def get(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        keys = [_key(t) for t in texts]
        found: dict[bytes, bytes] = {}
        try:
            for start in range(0, len(keys), _MAX_VARS):
                part = keys[start : start + _MAX_VARS]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})",  # noqa: S608
                    part,
                )
                found.update(rows.fetchall())
        except sqlite3.Error as error:
            log.warning("embedding cache %s not read: %s", self.path, error)
        return [np.frombuffer(found[k], dtype=np.float32) if k in found else None for k in keys]

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (_key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
            if len(v) == EMBEDDING_DIMENSION
        ]
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        except sqlite3.Error as error:  # read-only for this user, disk full: keep embedding
            log.warning("embedding cache %s not written: %s", self.path, error)

    def close(self) -> None:
        self._db.close()
