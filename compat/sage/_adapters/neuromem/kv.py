"""neuromem's ``KVMemoryCollection``: texts + metadata with named BM25 indexes (the native
core's text search)."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sage._adapters.neuromem.base import BaseMemoryCollection, MetadataFilter, stable_id


class _TextIndex:
    def __init__(self, name: str) -> None:
        from sage_native import Collection

        self.name = name
        self._dir = tempfile.mkdtemp(prefix="sage-neuromem-kv-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._core = Collection.create(str(Path(self._dir) / "core"), 1, "ip", "flat", "none")

    def insert(self, text: str, item_id: str) -> None:
        self._core.upsert([item_id], np.zeros((1, 1), dtype=np.float32), None, [text])

    def delete(self, item_id: str) -> None:
        self._core.delete(ids=[item_id])

    def search(self, text: str, topk: int) -> list[str]:
        if not self._core.count():
            return []
        return [str(i) for i in self._core.search_text([text], k=int(topk))["ids"][0]]


class KVMemoryCollection(BaseMemoryCollection):
    kind = "kv"

    def __init__(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        super().__init__(config if config is not None else kwargs)
        self.indexes: dict[str, _TextIndex] = {}
        self.index_info: dict[str, dict[str, Any]] = {}

    def create_index(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> bool:
        """``create_index({"name", "index_type": "bm25s", "description"})``; the stored texts
        that pass ``metadata_filter_func`` / conditions in ``kwargs`` are indexed."""
        if isinstance(config, str):
            config = {"name": config}
        config = dict(config or {})
        name = config.get("name")
        if not name:
            raise ValueError("an index config needs a 'name'")
        if name in self.indexes:
            self.logger.warning("index %r already exists in collection %r", name, self.name)
            return False
        self.indexes[name] = _TextIndex(name)
        self.index_info[name] = {k: v for k, v in config.items() if k != "name"}
        keep = kwargs.pop("metadata_filter_func", None)
        for item_id in self.filter_ids(self.get_all_ids(), keep, **kwargs):
            self.indexes[name].insert(self.text_storage.get(item_id) or "", item_id)
        return True

    def delete_index(self, index_name: str) -> None:
        self._index(index_name)
        del self.indexes[index_name], self.index_info[index_name]

    def list_index(self) -> list[dict[str, Any]]:
        return [{"name": n, **info} for n, info in self.index_info.items()]

    def _index(self, index_name: str) -> _TextIndex:
        if index_name not in self.indexes:
            raise ValueError(
                f"collection {self.name!r} has no index {index_name!r} "
                f"(it has: {', '.join(self.indexes) or 'none'}); create_index() it first"
            )
        return self.indexes[index_name]

    def insert(
        self,
        raw_text: str,
        metadata: Mapping[str, Any] | None = None,
        *index_names: str,
        index_name: str | None = None,
    ) -> str:
        names = [*index_names, *([index_name] if index_name else [])] or list(self.indexes)
        indexes = [self._index(n) for n in names]
        item_id = self._store(raw_text, metadata)
        for index in indexes:
            index.insert(raw_text, item_id)
        return item_id

    def delete(self, raw_text: str) -> bool:
        item_id = stable_id(raw_text)
        existed = self.text_storage.has(item_id)
        self.text_storage.delete(item_id)
        self.metadata_storage.delete(item_id)
        for index in self.indexes.values():
            index.delete(item_id)
        return existed

    def retrieve(
        self,
        raw_text: str,
        topk: int = 5,
        with_metadata: bool = False,
        index_name: str | None = None,
        metadata_filter_func: MetadataFilter | None = None,
        **metadata_conditions: Any,
    ) -> list[Any]:
        if index_name is None:
            if len(self.indexes) != 1:
                raise ValueError(f"retrieve() needs index_name= (indexes: {list(self.indexes)})")
            index_name = next(iter(self.indexes))
        ids = self._index(index_name).search(raw_text, max(int(topk) * 4, 16))
        final = self.filter_ids(ids, metadata_filter_func, **metadata_conditions)[: int(topk)]
        if with_metadata:
            return [
                {"text": self.text_storage.get(i), "metadata": self.metadata_storage.get(i)}
                for i in final
            ]
        return [self.text_storage.get(i) for i in final]

    def store(self, store_path: str | Path | None = None) -> str:
        from sage._adapters.neuromem.manager import get_default_data_dir

        folder = Path(store_path or get_default_data_dir()) / "kv_collection" / self.name
        state = self._state()
        state["indexes"] = self.index_info
        self._write_json(folder, state)
        return str(folder)

    @classmethod
    def load(cls, name: str, kv_path: str | Path) -> KVMemoryCollection:
        state = cls._read_json(Path(kv_path))
        collection = cls({"name": name})
        collection._restore(state)
        for index_name, info in state.get("indexes", {}).items():
            collection.create_index({"name": index_name, **info})
        return collection
