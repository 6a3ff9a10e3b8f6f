"""The collections on disk: one native collection per directory under ``<data_dir>/collections``.

Each collection directory holds ``spec.json`` (what the native core does not know: the embedding
model and the default durability) and ``core/`` (the native collection). Opening the store opens
every collection found, so a restarted service serves them all again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sage_native import Collection

log = logging.getLogger("sage.vdb.store")
# \Z, not $: "$" also matches before a trailing newline. Use NAME_RE.fullmatch.
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,128}\Z")
SPEC_FILE = "spec.json"
CORE_DIR = "core"


@dataclass
class CollectionSpec:
    name: str
    dimension: int
    metric: str = "cosine"
    index: dict[str, Any] = field(default_factory=lambda: {"type": "hnsw"})
    embedding_model: str = ""
    durability: str = "sync"  # "sync" | "async": the default of writes that name none


@dataclass
class OpenCollection:
    spec: CollectionSpec
    core: Collection


class CollectionStore:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.root = Path(data_dir) / "collections"
        self._lock = threading.Lock()
        self._open: dict[str, OpenCollection] = {}

    def open_all(self) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        for entry in sorted(self.root.iterdir()):
            spec_file = entry / SPEC_FILE
            if not spec_file.is_file():
                # A directory without spec.json is a create that crashed half-way: drop it.
                log.warning("removing incomplete collection directory %s", entry)
                shutil.rmtree(entry, ignore_errors=True)
                continue
            spec = CollectionSpec(**json.loads(spec_file.read_text()))
            self._open[spec.name] = OpenCollection(spec, Collection.open(str(entry / CORE_DIR)))
        return sorted(self._open)

    def get(self, name: str) -> OpenCollection | None:
        return self._open.get(name)

    def names(self) -> list[str]:
        return sorted(self._open)

    def create(self, spec: CollectionSpec) -> OpenCollection:
        """Raises FileExistsError for a taken name, ValueError for a bad spec."""
        with self._lock:
            if spec.name in self._open:
                raise FileExistsError(spec.name)
            directory = self.root / spec.name
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
            try:
                # The group policy syncs the log every 10 ms; a durable write also flushes before it
                # is acknowledged, so each write chooses its own durability.
                core = Collection.create(
                    str(directory / CORE_DIR), spec.dimension, spec.metric, spec.index, "group"
                )
                tmp = directory / (SPEC_FILE + ".tmp")
                tmp.write_text(json.dumps(asdict(spec)))
                os.replace(tmp, directory / SPEC_FILE)
                _fsync_dir(directory)
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise
            opened = OpenCollection(spec, core)
            self._open[spec.name] = opened
            return opened

    def delete(self, name: str) -> bool:
        with self._lock:
            opened = self._open.pop(name, None)
            if opened is None:
                return False
            # Remove the spec first: a crash part-way leaves a directory open_all discards.
            directory = self.root / name
            (directory / SPEC_FILE).unlink(missing_ok=True)
            opened.core.close()
            shutil.rmtree(directory, ignore_errors=True)
            return True

    def close(self) -> None:
        with self._lock:
            for opened in self._open.values():
                opened.core.close()
            self._open.clear()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
