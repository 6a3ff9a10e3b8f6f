"""neuromem's ``GraphMemoryCollection``: nodes (an id, a text, metadata) and weighted directed
edges in named graph indexes; neighbours by weight, breadth-first traversal, metadata retrieval."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage._adapters.neuromem.base import BaseMemoryCollection, MetadataFilter


class SimpleGraphIndex:
    """Weighted directed edges between node ids, with each node's text."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: dict[str, str] = {}
        self.out_edges: dict[str, dict[str, float]] = {}
        self.in_edges: dict[str, dict[str, float]] = {}

    def add_node(self, node_id: str, data: str) -> None:
        self.nodes[node_id] = data
        self.out_edges.setdefault(node_id, {})
        self.in_edges.setdefault(node_id, {})

    def add_edge(self, from_node: str, to_node: str, weight: float = 1.0) -> None:
        for node in (from_node, to_node):
            if node not in self.nodes:
                raise KeyError(f"graph index {self.name!r} has no node {node!r}; add_node() it")
        self.out_edges[from_node][to_node] = float(weight)
        self.in_edges[to_node][from_node] = float(weight)

    def remove_edge(self, from_node: str, to_node: str) -> None:
        self.out_edges.get(from_node, {}).pop(to_node, None)
        self.in_edges.get(to_node, {}).pop(from_node, None)

    def remove_node(self, node_id: str) -> None:
        for other in list(self.out_edges.pop(node_id, {})):
            self.in_edges.get(other, {}).pop(node_id, None)
        for other in list(self.in_edges.pop(node_id, {})):
            self.out_edges.get(other, {}).pop(node_id, None)
        self.nodes.pop(node_id, None)

    def get_neighbors(
        self, node_id: str, k: int = 10, direction: str = "outgoing"
    ) -> list[tuple[str, float]]:
        """``(neighbour, weight)``, heaviest first; ``direction`` outgoing | incoming | both."""
        if direction not in ("outgoing", "incoming", "both"):
            raise ValueError(f"direction must be outgoing, incoming or both, got {direction!r}")
        edges: dict[str, float] = {}
        if direction in ("outgoing", "both"):
            edges.update(self.out_edges.get(node_id, {}))
        if direction in ("incoming", "both"):
            for other, w in self.in_edges.get(node_id, {}).items():
                edges[other] = max(w, edges.get(other, w))
        return sorted(edges.items(), key=lambda e: (-e[1], e[0]))[: int(k)]

    def get_node_data(self, node_id: str) -> str | None:
        return self.nodes.get(node_id)

    def has_node(self, node_id: str) -> bool:
        return node_id in self.nodes

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.out_edges}

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> SimpleGraphIndex:
        index = cls(name)
        for node_id, text in data.get("nodes", {}).items():
            index.add_node(node_id, text)
        for a, targets in data.get("edges", {}).items():
            for b, w in targets.items():
                index.add_edge(a, b, w)
        return index


class GraphMemoryCollection(BaseMemoryCollection):
    kind = "graph"

    def __init__(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        super().__init__(config if config is not None else kwargs)
        self.indexes: dict[str, SimpleGraphIndex] = {}
        self.node_ids: dict[str, str] = {}  # node id -> the storage id of its text

    def create_index(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> bool:
        name = config if isinstance(config, str) else dict(config or kwargs).get("name")
        if not name:
            raise ValueError("an index config needs a 'name'")
        if name in self.indexes:
            return False
        self.indexes[name] = SimpleGraphIndex(name)
        return True

    def _index(self, index_name: str | None) -> SimpleGraphIndex:
        if index_name is None:
            if not self.indexes:
                self.create_index({"name": "default"})
            return next(iter(self.indexes.values()))
        if index_name not in self.indexes:
            raise ValueError(
                f"collection {self.name!r} has no graph index {index_name!r} "
                f"(it has: {', '.join(self.indexes) or 'none'})"
            )
        return self.indexes[index_name]

    def add_node(
        self,
        node_id: str,
        data: str,
        metadata: Mapping[str, Any] | None = None,
        index_name: str | None = None,
    ) -> str:
        index = self._index(index_name)
        self.node_ids[node_id] = self._store(data, {**(metadata or {})})
        index.add_node(node_id, data)
        return node_id

    def add_edge(
        self, from_node: str, to_node: str, weight: float = 1.0, index_name: str | None = None
    ) -> None:
        self._index(index_name).add_edge(from_node, to_node, weight)

    def get_neighbors(
        self, node_id: str, k: int = 10, index_name: str | None = None, direction: str = "outgoing"
    ) -> list[dict[str, Any]]:
        index = self._index(index_name)
        return [
            {"node_id": n, "data": index.get_node_data(n), "weight": w}
            for n, w in index.get_neighbors(node_id, k, direction)
        ]

    def retrieve_by_graph(
        self,
        start_node: str,
        max_depth: int = 2,
        max_nodes: int = 10,
        index_name: str | None = None,
    ) -> list[dict[str, Any]]:
        """Breadth-first from ``start_node`` (depth 0) along outgoing edges, heaviest first."""
        index = self._index(index_name)
        if not index.has_node(start_node):
            return []
        seen, out = {start_node}, list[dict[str, Any]]()
        queue: deque[tuple[str, int]] = deque([(start_node, 0)])
        while queue and len(out) < max_nodes:
            node, depth = queue.popleft()
            out.append({"node_id": node, "data": index.get_node_data(node), "depth": depth})
            if depth < max_depth:
                for nxt, _ in index.get_neighbors(node, k=len(index.nodes)):
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append((nxt, depth + 1))
        return out

    def retrieve(
        self,
        query: str | None = None,
        with_metadata: bool = False,
        metadata_filter_func: MetadataFilter | None = None,
        index_name: str | None = None,
        topk: int | None = None,
        **metadata_conditions: Any,
    ) -> list[Any]:
        """Nodes whose metadata passes the filter (and whose text contains ``query``)."""
        ids = [i for i in self.node_ids.values()]
        if query:
            ids = [i for i in ids if query.lower() in (self.text_storage.get(i) or "").lower()]
        kept = self.filter_ids(ids, metadata_filter_func, **metadata_conditions)
        kept = kept[:topk] if topk else kept
        if with_metadata:
            return [
                {"text": self.text_storage.get(i), "metadata": self.metadata_storage.get(i)}
                for i in kept
            ]
        return [self.text_storage.get(i) for i in kept]

    def store(self, store_path: str | Path | None = None) -> str:
        from sage._adapters.neuromem.manager import get_default_data_dir

        folder = Path(store_path or get_default_data_dir()) / "graph_collection" / self.name
        state = self._state()
        state["node_ids"] = self.node_ids
        state["indexes"] = {name: index.to_dict() for name, index in self.indexes.items()}
        self._write_json(folder, state)
        return str(folder)

    @classmethod
    def load(cls, name: str, graph_path: str | Path) -> GraphMemoryCollection:
        state = cls._read_json(Path(graph_path))
        collection = cls({"name": name})
        collection._restore(state)
        collection.node_ids = dict(state.get("node_ids", {}))
        for index_name, data in state.get("indexes", {}).items():
            collection.indexes[index_name] = SimpleGraphIndex.from_dict(index_name, data)
        return collection
