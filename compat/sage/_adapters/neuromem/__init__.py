"""SAGE's neuromem (``sage.middleware.components.sage_mem``): ``MemoryManager`` and its VDB, KV
and graph collections, in-process. Vectors and BM25 text search are the native core's
(``sage_native.Collection``), embeddings are ``sage_client``'s embedding models; what is here is
neuromem's shape: text / metadata storage keyed by a stable id, named indexes per collection, a
manager that stores collections under a data directory and loads them lazily."""

from sage._adapters.neuromem.base import BaseMemoryCollection
from sage._adapters.neuromem.graph import GraphMemoryCollection, SimpleGraphIndex
from sage._adapters.neuromem.kv import KVMemoryCollection
from sage._adapters.neuromem.manager import MemoryManager, get_default_data_dir
from sage._adapters.neuromem.vdb import VDBMemoryCollection

__all__ = [
    "BaseMemoryCollection",
    "GraphMemoryCollection",
    "KVMemoryCollection",
    "MemoryManager",
    "SimpleGraphIndex",
    "VDBMemoryCollection",
    "get_default_data_dir",
]
