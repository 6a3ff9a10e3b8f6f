"""neuromem's storage shape: texts and metadata by a stable id (sha256 of the text), metadata
fields registered before use, ids kept in insertion order."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

MetadataFilter = Callable[[dict[str, Any]], bool]
logger = logging.getLogger("sage.neuromem")


def stable_id(text: str) -> str:
    """The id neuromem gives a text: sha256 of it (so ``delete(text)`` finds it again)."""
    if not isinstance(text, str):
        raise TypeError(f"a memory's text must be a str, got {type(text).__name__}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TextStorage:
    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def store(self, item_id: str, text: str) -> None:
        self._texts[item_id] = text

    def get(self, item_id: str) -> str | None:
        return self._texts.get(item_id)

    def has(self, item_id: str) -> bool:
        return item_id in self._texts

    def delete(self, item_id: str) -> None:
        self._texts.pop(item_id, None)

    def get_all_ids(self) -> list[str]:
        return list(self._texts)

    def clear(self) -> None:
        self._texts.clear()

    def to_dict(self) -> dict[str, str]:
        return dict(self._texts)


class MetadataStorage:
    """Metadata per id; every key must be a registered field (``add_field``)."""

    def __init__(self) -> None:
        self.fields: set[str] = set()
        self._data: dict[str, dict[str, Any]] = {}

    def add_field(self, name: str) -> None:
        self.fields.add(name)

    def has_field(self, name: str) -> bool:
        return name in self.fields

    def store(self, item_id: str, metadata: Mapping[str, Any]) -> None:
        unknown = sorted(set(metadata) - self.fields)
        if unknown:
            raise ValueError(
                f"metadata field(s) {unknown} are not registered; call "
                "collection.add_metadata_field(name) first"
            )
        self._data[item_id] = dict(metadata)

    def get(self, item_id: str) -> dict[str, Any]:
        return dict(self._data.get(item_id, {}))

    def has(self, item_id: str) -> bool:
        return item_id in self._data

    def delete(self, item_id: str) -> None:
        self._data.pop(item_id, None)

    def clear(self) -> None:
        self._data.clear()


class BaseMemoryCollection:
    """A named set of texts with metadata."""

    kind = "base"

    def __init__(self, name: str | Mapping[str, Any]) -> None:
        if isinstance(name, Mapping):
            name = name.get("name", "")
        if not isinstance(name, str) or not name:
            raise ValueError("a collection needs a non-empty 'name'")
        self.name = name
        self.text_storage = TextStorage()
        self.metadata_storage = MetadataStorage()
        self.logger = logger

    # -- data ---------------------------------------------------------------------------
    def _get_stable_id(self, raw_text: str) -> str:
        return stable_id(raw_text)

    def add_metadata_field(self, field_name: str) -> None:
        self.metadata_storage.add_field(field_name)

    def _store(self, text: str, metadata: Mapping[str, Any] | None) -> str:
        item_id = stable_id(text)
        for field in metadata or {}:
            self.metadata_storage.add_field(field)
        self.text_storage.store(item_id, text)
        if metadata:
            self.metadata_storage.store(item_id, metadata)
        return item_id

    def batch_insert_data(
        self, data: list[str], metadatas: list[dict[str, Any]] | None = None
    ) -> list[str]:
        """Store texts (and metadata) without indexing them; their ids."""
        if metadatas is not None and len(metadatas) != len(data):
            raise ValueError(f"{len(data)} texts but {len(metadatas)} metadata entries")
        for text in data:
            stable_id(text)  # every text is checked before anything is stored
        return [self._store(t, metadatas[i] if metadatas else None) for i, t in enumerate(data)]

    def get_all_ids(self) -> list[str]:
        return self.text_storage.get_all_ids()

    def filter_ids(
        self,
        ids: Iterable[str],
        metadata_filter_func: MetadataFilter | None = None,
        **metadata_conditions: Any,
    ) -> list[str]:
        out = []
        for item_id in ids:
            meta = self.metadata_storage.get(item_id)
            if metadata_filter_func is not None and not metadata_filter_func(meta):
                continue
            if any(meta.get(k) != v for k, v in metadata_conditions.items()):
                continue
            out.append(item_id)
        return out

    def get_text(self, item_id: str) -> str | None:
        return self.text_storage.get(item_id)

    def get_metadata(self, item_id: str) -> dict[str, Any]:
        return self.metadata_storage.get(item_id)

    def clear(self) -> None:
        self.text_storage.clear()
        self.metadata_storage.clear()

    # -- persistence ----------------------------------------------------------------------
    def store(self, store_path: str | Path | None = None) -> str:
        raise NotImplementedError(f"{type(self).__name__} cannot be stored")

    def _state(self) -> dict[str, Any]:
        ids = self.get_all_ids()
        return {
            "name": self.name,
            "kind": self.kind,
            "fields": sorted(self.metadata_storage.fields),
            "items": [
                {
                    "id": i,
                    "text": self.text_storage.get(i),
                    "metadata": self.metadata_storage.get(i),
                }
                for i in ids
            ],
        }

    def _restore(self, state: Mapping[str, Any]) -> None:
        for field in state.get("fields", []):
            self.metadata_storage.add_field(field)
        for item in state.get("items", []):
            self.text_storage.store(item["id"], item["text"])
            if item.get("metadata"):
                self.metadata_storage.store(item["id"], item["metadata"])

    @staticmethod
    def _write_json(folder: Path, state: Mapping[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "collection.json.tmp"
        tmp.write_text(json.dumps(state, ensure_ascii=False, default=str))
        tmp.replace(folder / "collection.json")

    @staticmethod
    def _read_json(folder: Path) -> dict[str, Any]:
        path = Path(folder) / "collection.json"
        if not path.is_file():
            raise FileNotFoundError(f"no stored collection at {folder} (no collection.json)")
        return json.loads(path.read_text())
