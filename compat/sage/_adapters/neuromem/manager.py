"""neuromem's ``MemoryManager``: the collections of a data directory (``manager.json`` lists
them; each one is stored under ``<data_dir>/<kind>_collection/<name>`` and loaded on first use)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage._adapters.neuromem.base import BaseMemoryCollection
from sage._adapters.neuromem.graph import GraphMemoryCollection
from sage._adapters.neuromem.kv import KVMemoryCollection
from sage._adapters.neuromem.vdb import VDBMemoryCollection

logger = logging.getLogger("sage.neuromem")
KINDS: dict[str, type[Any]] = {
    "vdb": VDBMemoryCollection,
    "kv": KVMemoryCollection,
    "graph": GraphMemoryCollection,
}
DATA_DIR_ENV = "SAGE_NEUROMEM_DATA_DIR"


def get_default_data_dir() -> str:
    """``$SAGE_NEUROMEM_DATA_DIR``, else ``~/.sage/neuromem/data`` (its parent holds nothing
    but neuromem's data)."""
    return os.environ.get(DATA_DIR_ENV) or str(Path.home() / ".sage" / "neuromem" / "data")


def _kind(backend_type: Any) -> str:
    text = str(backend_type or "").lower()
    for kind in KINDS:
        if kind in text:
            return kind
    raise ValueError(f"backend_type must be VDB, KV or GRAPH, got {backend_type!r}")


class MemoryManager:
    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self.data_dir = str(data_dir or get_default_data_dir())
        self.manager_path = os.path.join(self.data_dir, "manager.json")
        self.collections: dict[str, BaseMemoryCollection] = {}
        self.collection_metadata: dict[str, dict[str, Any]] = {}
        self.collection_status: dict[str, str] = {}  # loaded | on_disk
        if os.path.isfile(self.manager_path):
            with open(self.manager_path, encoding="utf-8") as f:
                self.collection_metadata = json.load(f)
            self.collection_status = {name: "on_disk" for name in self.collection_metadata}

    def _path(self, name: str) -> Path:
        kind = self.collection_metadata[name]["backend_type"]
        return Path(self.data_dir) / f"{kind}_collection" / name

    def create_collection(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """A new collection from ``{"name", "backend_type": VDB|KV|GRAPH, "description"}``;
        None (and a warning) when that name exists."""
        config = {**dict(config or {}), **kwargs}
        name = config.get("name")
        if not name or not isinstance(name, str):
            raise ValueError("create_collection() needs a 'name'")
        kind = _kind(config.get("backend_type", "VDB"))
        if name in self.collection_metadata:
            logger.warning("collection %r already exists", name)
            return None
        collection = KINDS[kind]({"name": name})
        self.collections[name] = collection
        self.collection_metadata[name] = {
            "description": config.get("description", ""),
            "backend_type": kind,
        }
        self.collection_status[name] = "loaded"
        return collection

    def has_collection(self, name: str) -> bool:
        return name in self.collections or name in self.collection_metadata

    def get_collection(self, name: str) -> Any:
        if name in self.collections:
            return self.collections[name]
        if name not in self.collection_metadata:
            return None
        path = self._path(name)
        if not path.exists():
            logger.warning("collection %r is listed but was never stored (%s)", name, path)
            return None
        collection = KINDS[self.collection_metadata[name]["backend_type"]].load(name, path)
        self.collections[name] = collection
        self.collection_status[name] = "loaded"
        return collection

    def delete_collection(self, name: str) -> bool:
        existed = name in self.collections or name in self.collection_metadata
        path = self._path(name) if name in self.collection_metadata else None
        self.collections.pop(name, None)
        self.collection_metadata.pop(name, None)
        self.collection_status.pop(name, None)
        if path is not None and path.exists():
            shutil.rmtree(path)
        self._save_manager()
        return existed

    def store_collection(self, name: str | None = None) -> None:
        """Write ``name`` (default: every loaded collection) and the manager's list."""
        if name is not None and name not in self.collections:
            raise ValueError(f"no loaded collection {name!r} (have: {sorted(self.collections)})")
        names = [name] if name else [n for n, s in self.collection_status.items() if s == "loaded"]
        for cname in names:
            if cname in self.collections:
                self.collections[cname].store(self.data_dir)
        self._save_manager()

    def _save_manager(self) -> None:
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.manager_path, "w", encoding="utf-8") as f:
            json.dump(self.collection_metadata, f, ensure_ascii=False, indent=2)

    def list_collection(self, name: str | None = None) -> Any:
        if name is not None:
            if name not in self.collection_metadata:
                return None
            meta = self.collection_metadata[name]
            return {"name": name, "status": self.collection_status.get(name), **meta}
        return [
            {"name": n, "status": self.collection_status.get(n), **meta}
            for n, meta in self.collection_metadata.items()
        ]

    def rename(self, former_name: str, new_name: str, new_description: str | None = None) -> bool:
        if former_name not in self.collection_metadata or new_name in self.collection_metadata:
            return False
        old_path = self._path(former_name)
        meta = self.collection_metadata.pop(former_name)
        if new_description is not None:
            meta["description"] = new_description
        self.collection_metadata[new_name] = meta
        self.collection_status[new_name] = self.collection_status.pop(former_name, "on_disk")
        if former_name in self.collections:
            collection = self.collections.pop(former_name)
            collection.name = new_name
            self.collections[new_name] = collection
        if old_path.exists():
            old_path.rename(self._path(new_name))
        self._save_manager()
        return True
