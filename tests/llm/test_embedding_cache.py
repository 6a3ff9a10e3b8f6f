"""SAGE_EMBEDDING_CACHE: a text embedded once is read back, bit for bit, without the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sage_client.llm.embedding_cache import EmbeddingCache
from sage_client.llm.embeddings import EmbeddingClient


class _CountingBackend:
    """Wraps the real embedder and counts the texts it is asked for."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.asked: list[str] = []

    def embed(self, texts: list[str]) -> object:
        self.asked += texts
        return self.inner.embed(texts)  # type: ignore[attr-defined]


def test_cached_vectors_equal_the_models_and_only_new_texts_reach_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setenv("SAGE_EMBEDDING_CACHE", str(tmp_path / "cache"))
    plain = EmbeddingClient()
    plain._cache = None
    texts = ["the mesh starts with sage mesh up", "vectors have 384 dimensions"]
    expected = plain.embed(texts + ["a third text"])

    first = EmbeddingClient()
    first._backend = counting = _CountingBackend(plain._backend)
    computed = first.embed(texts)
    assert counting.asked == texts
    # the model's float noise differs with the batch it ran in; the cache returns its own bits
    assert np.allclose(computed, expected[:2], atol=1e-5)

    second = EmbeddingClient()  # another client (another process would read the same file)
    second._backend = counting = _CountingBackend(plain._backend)
    got = second.embed([texts[1], "a third text", texts[0]])
    assert counting.asked == ["a third text"]
    assert np.array_equal(got[[0, 2]], computed[[1, 0]])  # read back, bit for bit
    assert np.allclose(got[1], expected[2], atol=1e-5)
    assert (tmp_path / "cache" / "all-MiniLM-L6-v2.sqlite").exists()


def test_an_unusable_cache_folder_is_skipped_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SAGE_EMBEDDING_CACHE", str(blocker / "cache"))
    assert EmbeddingCache.from_env() is None
    monkeypatch.delenv("SAGE_EMBEDDING_CACHE")
    assert EmbeddingCache.from_env() is None
