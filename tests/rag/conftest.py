import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CORPUS = {
    "discovery.md": (
        "# Discovery\n\nEvery service instance registers itself in etcd under a lease. "
        "Clients list the registered instances and watch for changes, so a stopped instance "
        "disappears once its lease expires."
    ),
    "errors.md": (
        "# Errors\n\nThe gateway answers error code E4711 when the request quota is spent. "
        "Retry after the window given in the Retry-After header."
    ),
    "cooking.md": (
        "# Soup\n\nChop the onions, fry them in butter until golden, add stock and simmer "
        "for twenty minutes before blending."
    ),
}


@pytest.fixture(scope="session")
def embedder() -> Any:
    """all-MiniLM-L6-v2 in this process (loaded once per session)."""
    pytest.importorskip("torch")
    from sage_client.llm import EmbeddingClient

    client = EmbeddingClient()
    client.embed(["warm up"])
    return client


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for name, text in CORPUS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def indexed(
    corpus_dir: Path, embedder: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The corpus chunked by sentences and indexed through a DataStream pipeline."""
    from sage_client import (
        ChunkIndexer,
        DocumentLoader,
        LocalEnvironment,
        SentenceChunker,
        find_files,
        open_collection,
    )

    path = tmp_path_factory.mktemp("index") / "col"
    collection = open_collection(path)
    env = LocalEnvironment("ingest-test")
    (
        env.from_batch(find_files(corpus_dir))
        .flatmap(DocumentLoader)
        .flatmap(SentenceChunker, {"chunk_size": 1, "chunk_overlap": 0})
        .sink(ChunkIndexer, {"collection": collection, "embedder": embedder, "batch_size": 4})
    )
    env.submit(autostop=True)
    yield collection
