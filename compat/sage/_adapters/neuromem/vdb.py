"""neuromem's ``VDBMemoryCollection``: texts + metadata with named vector indexes (each one an
embedding model and a dimension), retrieval by a query vector or a text, and the statistics
neuromem keeps (inserts, retrievals, index builds)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage._adapters.neuromem.base import BaseMemoryCollection, MetadataFilter, stable_id
from sage._adapters.neuromem.vector_index import VectorIndex, unit

DEFAULT_THRESHOLD = 0.7  # neuromem's: a cosine similarity over unit vectors
_DEFAULT_INDEX = {"embedding_model": "hash", "dim": 384, "backend_type": "FAISS"}


def _embedder(name: str, dim: int) -> Any:
    from sage_client.llm.embedding_models import apply_embedding_model

    # "hash" (the default when a config names no model) takes the index's dimension
    return apply_embedding_model(name, dim=dim) if name == "hash" else apply_embedding_model(name)


class VDBMemoryCollection(BaseMemoryCollection):
    kind = "vdb"

    def __init__(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        super().__init__(config if config is not None else kwargs)
        self.index_info: dict[str, dict[str, Any]] = {}
        self.embedding_model_factory: dict[str, Any] = {}
        self._stats: dict[str, Any] = {
            "insert_count": 0,
            "retrieve_count": 0,
            "index_create_count": 0,
            "index_rebuild_count": 0,
            "retrieve_stats": [],
            "index_rebuild_stats": [],
        }

    @property
    def indexes(self) -> dict[str, VectorIndex]:
        return {name: info["index"] for name, info in self.index_info.items()}

    # -- indexes --------------------------------------------------------------------------
    def create_index(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> bool:
        """``create_index({"name", "embedding_model", "dim", "backend_type", "description",
        "index_parameter"})`` (or ``create_index("name", description=...)``)."""
        if isinstance(config, str):
            config = {"name": config, **kwargs}
        config = {**_DEFAULT_INDEX, **dict(config or kwargs)}
        name = config.get("name")
        if not name or not isinstance(name, str):
            raise ValueError("an index config needs a 'name'")
        if name in self.index_info:
            self.logger.warning("index %r already exists in collection %r", name, self.name)
            return False
        model_name = str(config["embedding_model"])
        index = VectorIndex(name, config["dim"], config.get("backend_type"))
        self.index_info[name] = {
            "index": index,
            "embedding_model_name": model_name,
            "dim": index.dim,
            "backend_type": config.get("backend_type"),
            "description": config.get("description", ""),
            "config": config.get("index_parameter"),
        }
        self._stats["index_create_count"] += 1
        return True

    def delete_index(self, index_name: str) -> None:
        self._info(index_name)
        del self.index_info[index_name]

    def list_index(self, *index_names: str) -> list[dict[str, Any]]:
        names = index_names or tuple(self.index_info)
        return [
            {"name": n, "description": self.index_info[n]["description"]}
            for n in names
            if n in self.index_info
        ]

    def _info(self, index_name: str) -> dict[str, Any]:
        if index_name not in self.index_info:
            raise ValueError(
                f"collection {self.name!r} has no index {index_name!r} "
                f"(it has: {', '.join(self.index_info) or 'none'}); create_index() it first"
            )
        return self.index_info[index_name]

    def _model(self, index_name: str) -> Any:
        info = self._info(index_name)
        model_name, dim = info["embedding_model_name"], info["dim"]
        key = f"{model_name}/{dim}" if model_name == "hash" else model_name
        if key not in self.embedding_model_factory:
            self.embedding_model_factory[key] = _embedder(model_name, dim)
        return self.embedding_model_factory[key]

    def _embed(self, index_name: str, text: str) -> Any:
        return self._model(index_name).encode(text)

    def init_index(
        self,
        index_name: str,
        vectors: list[Any] | None = None,
        item_ids: list[str] | None = None,
        metadata_filter_func: MetadataFilter | None = None,
        **metadata_conditions: Any,
    ) -> int:
        """Index stored items: with ``vectors`` (and their ``item_ids``, default every stored
        id) as given, else the items that pass the filter, embedded by the index's model."""
        index: VectorIndex = self._info(index_name)["index"]
        started = time.perf_counter()
        if vectors is not None:
            ids = list(item_ids) if item_ids is not None else self.get_all_ids()
            missing = [i for i in ids if not self.text_storage.has(i)]
            if missing:
                raise ValueError(f"{len(missing)} item id(s) are not stored, e.g. {missing[0]}")
            rows = [unit(v, index.dim) for v in vectors]  # every vector checked first
        else:
            ids = self.filter_ids(self.get_all_ids(), metadata_filter_func, **metadata_conditions)
            rows = [
                unit(self._embed(index_name, self.text_storage.get(i) or ""), index.dim)
                for i in ids
            ]
        count = index.batch_insert(rows, ids)
        self._stats["index_rebuild_count"] += 1
        self._stats["index_rebuild_stats"].append(
            {
                "index_name": index_name,
                "count": count,
                "duration": time.perf_counter() - started,
                "timestamp": time.time(),
            }
        )
        return count

    def update_index(
        self,
        index_name: str,
        metadata_filter_func: MetadataFilter | None = None,
        **metadata_conditions: Any,
    ) -> int:
        """Rebuild the index from the stored texts (those the filter keeps)."""
        info = dict(self._info(index_name))
        self.delete_index(index_name)
        self.create_index(
            {
                "name": index_name,
                "embedding_model": info["embedding_model_name"],
                "dim": info["dim"],
                "backend_type": info["backend_type"],
                "description": info["description"],
                "index_parameter": info["config"],
            }
        )
        self._stats["index_create_count"] -= 1  # a rebuild, not a new index
        return self.init_index(index_name, None, None, metadata_filter_func, **metadata_conditions)

    # -- data -----------------------------------------------------------------------------
    def insert(
        self,
        index_names: str | list[str] | None = None,
        content: str | None = None,
        vector: Any = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        index_name: str | list[str] | None = None,
        raw_data: str | None = None,
        raw_text: str | None = None,
    ) -> str:
        """Store ``content`` with ``metadata`` and index it in ``index_names`` (one or several),
        with ``vector`` or the index's embedding of the text; the item's id."""
        names = index_names if index_names is not None else index_name
        text = next((t for t in (content, raw_data, raw_text) if t is not None), None)
        if text is None:
            raise ValueError("insert() needs the text: content= (or raw_data=)")
        names_list = [names] if isinstance(names, str) else list(names or [])
        rows = {}
        for name in names_list:  # everything checked before anything is stored
            dim = self._info(name)["dim"]
            rows[name] = unit(vector if vector is not None else self._embed(name, text), dim)
        item_id = self._store(text, metadata)
        for name, row in rows.items():
            self.index_info[name]["index"].insert(row, item_id)
        self._stats["insert_count"] += 1
        return item_id

    def delete(self, raw_text: str) -> bool:
        item_id = stable_id(raw_text)
        existed = self.text_storage.has(item_id)
        self.text_storage.delete(item_id)
        self.metadata_storage.delete(item_id)
        for info in self.index_info.values():
            info["index"].delete(item_id)
        return existed

    def update(
        self,
        index_name: str,
        old_data: str,
        new_data: str,
        new_metadata: Mapping[str, Any] | None = None,
        new_vector: Any = None,
    ) -> str:
        if not self.text_storage.has(stable_id(old_data)):
            raise ValueError("the original text is not stored in this collection")
        self._info(index_name)
        self.delete(old_data)
        return self.insert(index_name, new_data, new_vector, new_metadata)

    def retrieve(
        self,
        query: Any = None,
        index_name: str | None = None,
        topk: int | None = None,
        threshold: float | None = None,
        with_metadata: bool = False,
        metadata_filter_func: MetadataFilter | None = None,
        *,
        query_vector: Any = None,
        raw_data: str | None = None,
        metadata_filter: MetadataFilter | None = None,
        **metadata_conditions: Any,
    ) -> list[Any]:
        """The ``topk`` items nearest the query (a vector, or a text embedded by the index's
        model) with a similarity >= ``threshold`` (default 0.7), that pass the metadata
        filter; texts, or ``{"text", "metadata"}`` with ``with_metadata``."""
        if index_name is None:
            if len(self.index_info) != 1:
                raise ValueError(f"retrieve() needs index_name= (indexes: {list(self.index_info)})")
            index_name = next(iter(self.index_info))
        index: VectorIndex = self._info(index_name)["index"]
        query = next((q for q in (query_vector, query, raw_data) if q is not None), None)
        if query is None:
            raise ValueError("retrieve() needs a query_vector= (or a query text)")
        if isinstance(query, str):
            query = self._embed(index_name, query)
        topk = 5 if topk is None else int(topk)
        threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        keep = metadata_filter_func or metadata_filter
        started = time.perf_counter()
        fetch = topk * 4 if (keep or metadata_conditions) else topk
        while True:
            ids, _ = index.search(query, fetch, threshold)
            kept = self.filter_ids(ids, keep, **metadata_conditions)
            if len(kept) >= topk or len(ids) < fetch:
                break
            fetch *= 4
        final = kept[:topk]
        self._stats["retrieve_count"] += 1
        self._stats["retrieve_stats"].append(
            {
                "index_name": index_name,
                "topk": topk,
                "result_count": len(final),
                "duration": time.perf_counter() - started,
                "timestamp": time.time(),
            }
        )
        if with_metadata:
            return [
                {"text": self.text_storage.get(i), "metadata": self.metadata_storage.get(i)}
                for i in final
            ]
        return [self.text_storage.get(i) for i in final]

    # -- statistics -----------------------------------------------------------------------
    def get_statistics(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self._stats.items() if k != "index_rebuild_stats"},
            "retrieve_stats": list(self._stats["retrieve_stats"]),
            "total_vectors_stored": sum(info["index"].count for info in self.index_info.values()),
            "index_stats": {
                name: {"vectors": info["index"].count, "dim": info["dim"]}
                for name, info in self.index_info.items()
            },
        }

    def reset_statistics(self) -> None:
        for key, value in self._stats.items():
            self._stats[key] = [] if isinstance(value, list) else 0

    def get_memory_stats(self) -> dict[str, Any]:
        texts = [self.text_storage.get(i) or "" for i in self.get_all_ids()]
        return {
            "collection": self.name,
            "total_items": len(texts),
            "total_text_bytes": sum(len(t.encode("utf-8")) for t in texts),
            "metadata_fields": sorted(self.metadata_storage.fields),
            "indexes": {name: info["index"].count for name, info in self.index_info.items()},
        }

    def get_retrieve_stats(self, last_n: int | None = None) -> dict[str, Any]:
        stats = self._stats["retrieve_stats"]
        recent = stats[-last_n:] if last_n else list(stats)
        total = sum(s["duration"] for s in stats)
        return {
            "total_retrieve_count": len(stats),
            "avg_duration": total / len(stats) if stats else 0.0,
            "recent_stats": recent,
        }

    def get_index_rebuild_stats(self) -> dict[str, Any]:
        return {
            "total_rebuild_count": self._stats["index_rebuild_count"],
            "rebuild_stats": list(self._stats["index_rebuild_stats"]),
        }

    # -- persistence ----------------------------------------------------------------------
    def store(self, store_path: str | Path | None = None) -> str:
        """Write the collection under ``<store_path>/vdb_collection/<name>``; that folder."""
        from sage._adapters.neuromem.manager import get_default_data_dir

        folder = Path(store_path or get_default_data_dir()) / "vdb_collection" / self.name
        state = self._state()
        state["indexes"] = {
            name: {k: v for k, v in info.items() if k != "index"}
            for name, info in self.index_info.items()
        }
        for info in self.index_info.values():
            info["index"].save(folder / "indexes")
        self._write_json(folder, state)
        return str(folder)

    @classmethod
    def load(cls, name: str, vdb_path: str | Path) -> VDBMemoryCollection:
        state = cls._read_json(Path(vdb_path))
        collection = cls({"name": name})
        collection._restore(state)
        for index_name, info in state.get("indexes", {}).items():
            collection.create_index(
                {
                    "name": index_name,
                    "embedding_model": info["embedding_model_name"],
                    "dim": info["dim"],
                    "backend_type": info.get("backend_type"),
                    "description": info.get("description", ""),
                    "index_parameter": info.get("config"),
                }
            )
            collection.index_info[index_name]["index"].load(Path(vdb_path) / "indexes")
        collection._stats["index_create_count"] = 0
        return collection
