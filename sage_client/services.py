"""The seed's service names for pipeline functions: ``self.call_service("kv_service")`` and
``self.call_service("vdb_service")`` (``memory_service`` is added next to them).

With a mesh configured (``SAGE_ETCD_ENDPOINTS``, or ``SAGE_<SERVICE>_ADDR`` for the service) a
name resolves to an adapter over the gRPC client; otherwise to an in-process implementation
(a dict for KV; a ``sage_native`` collection in a temporary directory and the locally loaded
embedding model for VDB), so the same pipeline runs with no servers. Importing this module
installs the resolver through ``sage_client.dataflow.set_remote_resolver``.

    kv = self.call_service("kv_service");  kv.put("k", {"a": 1});  kv.get("k")
    vdb = self.call_service("vdb_service")
    ids = vdb.add(["first text", "second text"], metadatas=[{"src": "a"}, {"src": "b"}])
    vdb.search("a question", top_k=3)     # [{"id", "score", "document", "metadata"}, ...]
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from sage_client.codec.embedding import EMBEDDING_DIMENSION, EMBEDDING_MODEL
from sage_client.dataflow import set_remote_resolver
from sage_client.vdb import Include, VDBClient

DEFAULT_COLLECTION = "sage_default"


def mesh_configured(service: str, env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("SAGE_ETCD_ENDPOINTS") or env.get(f"SAGE_{service.upper()}_ADDR"))


class _SeedService:
    """``self.call_service("kv_service")`` (no arguments) calls ``process()``, which hands back the
    service itself, so the seed's ``self.call_service("kv_service").put(...)`` works as written."""

    thread_safe = True

    def process(self) -> _SeedService:
        return self


# -- kv_service -------------------------------------------------------------------------------
class LocalKVService(_SeedService):
    """In-memory key/value store with the seed's methods."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, _MISSING) is not _MISSING

    def list_keys(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(k for k in self._data if k.startswith(prefix))

    def clear(self) -> int:
        with self._lock:
            count = len(self._data)
            self._data.clear()
            return count


_MISSING = object()


class MeshKVService(_SeedService):
    """The seed's KV methods over the KV service; values travel as JSON."""

    def __init__(self, namespace: str = "default") -> None:
        from sage_client.kv import KVClient

        self._kv = KVClient(namespace)

    def get(self, key: str, default: Any = None) -> Any:
        from sage_client.errors import NotFound

        try:
            return json.loads(self._kv.get(key))
        except NotFound:
            return default

    def put(self, key: str, value: Any) -> None:
        self._kv.put(key, json.dumps(value))

    def delete(self, key: str) -> bool:
        return self._kv.delete(key, allow_missing=True)

    def list_keys(self, prefix: str = "") -> list[str]:
        return [e.key for e in self._kv.scan(prefix, include_values=False)]

    def clear(self) -> int:
        return self._kv.clear()

    def close(self) -> None:
        self._kv.close()


# -- vdb_service ------------------------------------------------------------------------------
class _VectorStore(Protocol):
    def upsert(
        self,
        ids: list[str],
        vectors: np.ndarray | None,
        metadatas: list[dict[str, Any]],
        documents: list[str],
    ) -> None: ...
    def search(
        self, vector: np.ndarray | None, text: str | None, k: int, where: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]: ...
    def get(self, ids: list[str]) -> list[dict[str, Any]]: ...
    def delete(self, ids: list[str]) -> int: ...


class SeedVDBService(_SeedService):
    """The seed's ``vdb_service``: add/search/get/delete/update over documents and vectors.

    Texts are embedded by ``embed`` when it is given (in-process), else by the store (the mesh
    collection names an embedding model)."""

    def __init__(
        self, store: _VectorStore, embed: Callable[[list[str]], np.ndarray] | None
    ) -> None:
        self._store = store
        self._embed = embed
        self._next = 0
        self._lock = threading.Lock()

    def _new_ids(self, n: int) -> list[str]:
        with self._lock:
            start, self._next = self._next, self._next + n
        return [f"doc-{os.getpid()}-{id(self):x}-{i}" for i in range(start, start + n)]

    def add(
        self,
        documents: str | Sequence[str] | None = None,
        *,
        vectors: npt.ArrayLike | None = None,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[str]:
        """Store documents (embedded) and/or vectors; returns their ids."""
        docs = [documents] if isinstance(documents, str) else list(documents or [])
        array = None if vectors is None else np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        n = len(docs) if docs else (0 if array is None else len(array))
        if n == 0:
            raise ValueError("add needs documents or vectors")
        if docs and array is not None and len(array) != len(docs):
            raise ValueError(
                f"{len(array)} vectors for {len(docs)} documents; give one per document"
            )
        point_ids = list(ids) if ids is not None else self._new_ids(n)
        if len(point_ids) != n:
            raise ValueError(f"{len(point_ids)} ids for {n} points")
        if array is None and self._embed is not None:
            array = self._embed(docs)
        metas = (
            [dict(m or {}) for m in metadatas] if metadatas is not None else [{} for _ in range(n)]
        )
        self._store.upsert(point_ids, array, metas, docs or [""] * n)
        return point_ids

    def search(
        self, query: str | npt.ArrayLike, top_k: int = 5, where: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Nearest points to a text or a vector, best first: ``{"id", "score", "document", "metadata"}``."""
        if isinstance(query, str):
            if self._embed is None:
                return self._store.search(None, query, top_k, where)
            return self._store.search(self._embed([query])[0], None, top_k, where)
        return self._store.search(np.asarray(query, dtype=np.float32), None, top_k, where)

    def get(self, ids: str | Sequence[str]) -> Any:
        """One point as a dict (None when missing), or a list of the found ones."""
        if isinstance(ids, str):
            found = self._store.get([ids])
            return found[0] if found else None
        return self._store.get(list(ids))

    def delete(self, ids: str | Sequence[str]) -> int:
        return self._store.delete([ids] if isinstance(ids, str) else list(ids))

    def update(
        self,
        id: str,
        document: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        vector: npt.ArrayLike | None = None,
    ) -> bool:
        """Replace parts of a point (a new document is embedded again); False when it does not exist."""
        found = self._store.get([id])
        if not found:
            return False
        old = found[0]
        doc = old["document"] if document is None else document
        vectors = None
        if vector is not None:
            vectors = np.atleast_2d(np.asarray(vector, dtype=np.float32))
        elif document is None:
            vectors = np.atleast_2d(old["vector"])
        elif self._embed is not None:
            vectors = self._embed([doc])
        meta = dict(old["metadata"] if metadata is None else metadata)
        self._store.upsert([id], vectors, [meta], [doc])
        return True

    def close(self) -> None:
        closer = getattr(self._store, "close", None)
        if callable(closer):
            closer()


class NativeStore:
    """``sage_native`` collection in a temporary directory, created on the first write."""

    def __init__(self, metric: str = "cosine") -> None:
        self._metric = metric
        self._dir = tempfile.mkdtemp(prefix="sage-vdb-")
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._core: Any = None
        self._lock = threading.Lock()

    def _collection(self, dim: int) -> Any:
        with self._lock:
            if self._core is None:
                from sage_native import Collection

                self._core = Collection.create(
                    os.path.join(self._dir, "core"), dim, self._metric, "hnsw", "none"
                )
            return self._core

    def upsert(
        self,
        ids: list[str],
        vectors: np.ndarray | None,
        metadatas: list[dict[str, Any]],
        documents: list[str],
    ) -> None:
        if vectors is None:
            raise ValueError("the in-process vdb_service needs vectors or an embedding model")
        self._collection(vectors.shape[1]).upsert(ids, vectors, metadatas, documents)

    def search(
        self, vector: np.ndarray | None, text: str | None, k: int, where: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        if self._core is None:
            return []
        hits = (
            self._core.search(vector, k, where=dict(where) if where else None)
            if vector is not None
            else self._core.search_text([text], k, where=dict(where) if where else None)
        )
        return _rows(hits["ids"][0], hits["scores"][0], hits["metadatas"][0], hits["documents"][0])

    def get(self, ids: list[str]) -> list[dict[str, Any]]:
        if self._core is None:
            return []
        got = self._core.get(ids, include=["metadatas", "documents", "vectors"])
        return [
            {"id": i, "document": d, "metadata": m, "vector": v}
            for i, d, m, v in zip(
                got["ids"], got["documents"], got["metadatas"], got["vectors"], strict=True
            )
        ]

    def delete(self, ids: list[str]) -> int:
        return 0 if self._core is None else int(self._core.delete(ids=ids))

    def close(self) -> None:
        if self._core is not None:
            self._core.close()
        self._finalizer()


class MeshStore:
    """A collection of the VDB service; created on first use with the embedding model."""

    def __init__(self, collection: str = DEFAULT_COLLECTION) -> None:
        self._vdb = VDBClient()
        self._name = collection
        self._ready = False

    def _ensure(self, dim: int) -> None:
        if self._ready:
            return
        from sage_client.errors import AlreadyExists, NotFound

        try:
            self._vdb.get_collection(self._name)
        except NotFound:
            try:
                model = EMBEDDING_MODEL if dim == EMBEDDING_DIMENSION else ""
                self._vdb.create_collection(self._name, dim, embedding_model=model)
            except AlreadyExists:
                pass
        self._ready = True

    def upsert(
        self,
        ids: list[str],
        vectors: np.ndarray | None,
        metadatas: list[dict[str, Any]],
        documents: list[str],
    ) -> None:
        self._ensure(EMBEDDING_DIMENSION if vectors is None else vectors.shape[1])
        self._vdb.upsert(self._name, ids, vectors, metadatas=metadatas, documents=documents)

    def search(
        self, vector: np.ndarray | None, text: str | None, k: int, where: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        self._ensure(EMBEDDING_DIMENSION if vector is None else vector.shape[-1])
        include: list[Include] = ["metadatas", "documents"]
        result = (
            self._vdb.search(self._name, vector, top_k=k, where=where, include=include)[0]
            if vector is not None
            else self._vdb.search(
                self._name, query_texts=[text or ""], top_k=k, where=where, include=include
            )[0]
        )
        return _rows(
            result.ids,
            result.scores,
            result.metadatas or [{}] * len(result.ids),
            result.documents or [""] * len(result.ids),
        )

    def get(self, ids: list[str]) -> list[dict[str, Any]]:
        from sage_client.errors import NotFound

        try:
            got = self._vdb.get(self._name, ids, include=["metadatas", "documents", "vectors"])
        except NotFound:
            return []
        vectors = got.vectors if got.vectors is not None else [None] * len(got.ids)
        return [
            {"id": i, "document": d, "metadata": m, "vector": v}
            for i, d, m, v in zip(
                got.ids,
                got.documents or [""] * len(got.ids),
                got.metadatas or [{}] * len(got.ids),
                vectors,
                strict=True,
            )
        ]

    def delete(self, ids: list[str]) -> int:
        return self._vdb.delete(self._name, ids)

    def close(self) -> None:
        self._vdb.close()


def _rows(
    ids: Sequence[str], scores: Any, metadatas: Sequence[Any], documents: Sequence[Any]
) -> list[dict[str, Any]]:
    return [
        {"id": i, "score": float(s), "document": d, "metadata": m}
        for i, s, m, d in zip(ids, scores, metadatas, documents, strict=False)
    ]


def _local_embed() -> Callable[[list[str]], np.ndarray]:
    from sage_client.llm.embeddings import EmbeddingClient

    client = EmbeddingClient()
    return client.embed


def local_vdb_service() -> SeedVDBService:
    return SeedVDBService(NativeStore(), _LazyEmbed(_local_embed))


def mesh_vdb_service() -> SeedVDBService:
    # The VDB service embeds through the LLM service (the collection names the model).
    return SeedVDBService(MeshStore(), None)


class _LazyEmbed:
    """Loads the embedding model on the first text, so vector-only pipelines never load it."""

    def __init__(self, factory: Callable[[], Callable[[list[str]], np.ndarray]]) -> None:
        self._factory = factory
        self._fn: Callable[[list[str]], np.ndarray] | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self._fn is None:
            self._fn = self._factory()
        return self._fn(texts)


# -- the resolver -----------------------------------------------------------------------------
# name -> (mesh service whose address decides, in-process factory, mesh factory).
# memory_service is registered here by the Memory SDK.
SEED_SERVICES: dict[str, tuple[str, Callable[[], Any], Callable[[], Any]]] = {
    "kv_service": ("kv", LocalKVService, MeshKVService),
    "vdb_service": ("vdb", local_vdb_service, mesh_vdb_service),
}


def resolve_seed_service(name: str) -> Any:
    """The client object for a seed service name, or None for names this module does not know."""
    entry = SEED_SERVICES.get(name)
    if entry is None:
        return None
    service, local, mesh = entry
    return mesh() if mesh_configured(service) else local()


set_remote_resolver(resolve_seed_service)
