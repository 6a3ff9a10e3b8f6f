"""Type stubs for the sage_native extension (the C++ FAISS vector-store core)."""

from collections.abc import Sequence
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

__version__: str
faiss_version: str
simd: str  # distance kernels chosen for this CPU: "avx2" or "scalar"

Metric = Literal["l2", "ip", "cosine"]
Fsync = Literal["always", "group", "none"]
Fusion = Literal["rrf", "weighted"]
MetadataValue = str | int | float | bool | list[str]
Metadata = dict[str, MetadataValue]
Where = dict[str, Any]
WhereDocument = dict[str, Any]
Vectors = npt.ArrayLike  # (n, dim) float32, C-contiguous for zero copy; (dim,) is one vector

class Hits(TypedDict, total=False):
    ids: list[list[str]]  # per query, best first; shorter than k when fewer records qualify
    scores: npt.NDArray[np.float32]  # (nq, k); NaN past the hits
    metadatas: list[list[Metadata]]
    documents: list[list[str | None]]

class Records(TypedDict, total=False):
    ids: list[str]
    vectors: npt.NDArray[np.float32]  # (n, dim); cosine collections store unit vectors
    metadatas: list[Metadata]
    documents: list[str | None]

class Collection:
    @staticmethod
    def create(
        path: str,
        dim: int,
        metric: Metric = "cosine",
        index: dict[str, Any] | str = ...,
        fsync: Fsync = "always",
    ) -> Collection: ...
    @staticmethod
    def open(path: str) -> Collection: ...
    def upsert(
        self,
        ids: Sequence[str],
        vectors: Vectors,
        metadatas: Sequence[Metadata | None] | None = None,
        documents: Sequence[str | None] | None = None,
        *,
        wait: bool = True,
    ) -> bool: ...
    def get(
        self,
        ids: Sequence[str] | None = None,
        where: Where | None = None,
        where_document: WhereDocument | None = None,
        include: Sequence[Literal["metadatas", "documents", "vectors"]] = (
            "metadatas",
            "documents",
        ),
    ) -> Records: ...
    def delete(
        self,
        ids: Sequence[str] | None = None,
        where: Where | None = None,
        where_document: WhereDocument | None = None,
    ) -> int: ...
    def count(self) -> int: ...
    def search(
        self,
        queries: Vectors,
        k: int = 10,
        where: Where | None = None,
        where_document: WhereDocument | None = None,
        include: Sequence[Literal["metadatas", "documents"]] = ("metadatas", "documents"),
    ) -> Hits: ...
    def search_text(
        self,
        query_texts: str | Sequence[str],
        k: int = 10,
        where: Where | None = None,
        where_document: WhereDocument | None = None,
        include: Sequence[Literal["metadatas", "documents"]] = ("metadatas", "documents"),
    ) -> Hits: ...
    def hybrid_search(
        self,
        queries: Vectors,
        query_texts: str | Sequence[str],
        k: int = 10,
        fusion: Fusion = "rrf",
        alpha: float = 0.5,
        where: Where | None = None,
        where_document: WhereDocument | None = None,
        include: Sequence[Literal["metadatas", "documents"]] = ("metadatas", "documents"),
    ) -> Hits: ...
    def flush(self) -> None: ...
    def snapshot(self) -> None: ...
    def compact(self) -> None: ...
    def close(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
    @property
    def dim(self) -> int: ...
    @property
    def metric(self) -> Metric: ...
    @property
    def index(self) -> dict[str, Any]: ...
    @property
    def fsync(self) -> Fsync: ...
    def __len__(self) -> int: ...
    def __enter__(self) -> Collection: ...
    def __exit__(self, *exc: object) -> None: ...

class SearchExecutor:
    """Searches on native threads; ``fd()`` turns readable when ``collect()`` has results."""

    def __init__(self, threads: int) -> None: ...
    def submit(
        self,
        collection: Collection,
        queries: Vectors,
        k: int = 10,
        where: Where | None = None,
        where_document: WhereDocument | None = None,
        include: Sequence[Literal["metadatas", "documents"]] = ("metadatas", "documents"),
    ) -> int: ...
    def collect(self) -> list[tuple[int, Hits | BaseException]]: ...
    def fd(self) -> int: ...
    @property
    def threads(self) -> int: ...
    def shutdown(self) -> None: ...

class _Flow:
    """sage_native.flow: sage_flow's vector-window operators (native/src/flow_*.cpp)."""

    @staticmethod
    def knn_join(
        left: Vectors, right: Vectors, k: int = 10, metric: Metric = "cosine", threads: int = 0
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    @staticmethod
    def range_join(
        left: Vectors, right: Vectors, threshold: float, metric: Metric = "cosine", threads: int = 0
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    @staticmethod
    def index_join(
        left: Vectors,
        right: Vectors,
        k: int = 10,
        metric: Metric = "cosine",
        index: dict[str, Any] = ...,
        threads: int = 0,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    @staticmethod
    def centroid(vectors: Vectors) -> npt.NDArray[np.float32]: ...
    @staticmethod
    def isa() -> str: ...
    @staticmethod
    def set_amx(enabled: bool) -> None: ...

flow: _Flow
