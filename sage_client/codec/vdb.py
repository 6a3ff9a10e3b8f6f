"""The VDB contract's enums and index defaults, for the client and the service alike.

The enum maps are read from ``vdb.proto``'s descriptors (``METRIC_L2`` is ``"l2"``,
``FIELD_METADATA`` is the include name ``"metadatas"``); the index defaults and ranges are the
ones ``vdb.proto`` documents, and ``native/src/vector_index.h`` has the same (tests/native checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from sage_client.errors import InvalidArgument
from sage_proto.vdb.v1 import vdb_pb2


def _names(enum: EnumTypeWrapper, prefix: str, suffix: str = "") -> dict[str, int]:
    """{lower-case name without the prefix: number} for every value but UNSPECIFIED (0)."""
    return {
        name.removeprefix(prefix).lower() + suffix: number
        for name, number in enum.items()
        if number != 0
    }


METRICS = cast("dict[str, vdb_pb2.Metric]", _names(vdb_pb2.Metric, "METRIC_"))  # l2 ip cosine
DEFAULT_METRIC = "cosine"  # what METRIC_UNSPECIFIED means
METRIC_NAMES: dict[int, str] = {number: name for name, number in METRICS.items()}
METRIC_NAMES[vdb_pb2.METRIC_UNSPECIFIED] = DEFAULT_METRIC

# async, sync; a write may also say None: the collection's own.
DURABILITIES = cast("dict[str, vdb_pb2.Durability]", _names(vdb_pb2.Durability, "DURABILITY_"))
DEFAULT_DURABILITY = "sync"  # a collection's, when created with DURABILITY_UNSPECIFIED
DURABILITY_NAMES: dict[int, str] = {number: name for name, number in DURABILITIES.items()}
WRITE_DURABILITIES: dict[str | None, vdb_pb2.Durability] = {None: vdb_pb2.DURABILITY_UNSPECIFIED}
WRITE_DURABILITIES.update(DURABILITIES)

# metadatas, documents, vectors
INCLUDES = cast("dict[str, vdb_pb2.Field]", _names(vdb_pb2.Field, "FIELD_", "s"))
FIELD_INCLUDES: dict[int, str] = {number: name for name, number in INCLUDES.items()}

FUSIONS = cast("dict[str, vdb_pb2.Fusion]", _names(vdb_pb2.Fusion, "FUSION_"))  # rrf, weighted

# Index parameters: their ranges and what 0 (unset) means, as vdb.proto documents them.
MAX_DIMENSION = 65536
HNSW_M = (4, 128)
HNSW_EF_CONSTRUCTION = (8, 2048)
HNSW_EF_SEARCH = (1, 4096)
IVF_NLIST = (1, 65536)
MAX_NLIST_TIMES_DIM = 1 << 26  # the IVF centroids: nlist * dimension floats (256 MiB)
HNSW_DEFAULTS = {"M": 16, "ef_construction": 200, "ef_search": 64}
IVF_DEFAULT_NLIST = 1024
IVF_DEFAULT_NPROBE = 16  # never more than nlist: see default_nprobe


def default_nprobe(nlist: int) -> int:
    return min(IVF_DEFAULT_NPROBE, nlist)


def index_message(index: str | Mapping[str, Any]) -> vdb_pb2.IndexSpec:
    """An index spec as the native core writes it (``{"type": "hnsw", "M": 16, ...}``, or just the
    type) as the proto message; a parameter left out is 0, the service's default."""
    spec: dict[str, Any] = {"type": index} if isinstance(index, str) else dict(index)
    kind = spec.get("type", "hnsw")
    if kind == "flat":
        return vdb_pb2.IndexSpec(flat=vdb_pb2.FlatIndex())
    if kind == "ivf":
        return vdb_pb2.IndexSpec(
            ivf=vdb_pb2.IvfIndex(nlist=spec.get("nlist", 0), nprobe=spec.get("nprobe", 0))
        )
    if kind == "hnsw":
        return vdb_pb2.IndexSpec(
            hnsw=vdb_pb2.HnswIndex(
                m=spec.get("M", spec.get("m", 0)),
                ef_construction=spec.get("ef_construction", 0),
                ef_search=spec.get("ef_search", 0),
            )
        )
    raise InvalidArgument(
        f"unknown index type {kind!r}; use 'flat', 'hnsw' or 'ivf'", field="index"
    )


def index_dict(spec: vdb_pb2.IndexSpec) -> dict[str, Any]:
    """The proto message as a dict in the native core's names; unset is HNSW."""
    kind = spec.WhichOneof("kind") or "hnsw"
    if kind == "flat":
        return {"type": "flat"}
    if kind == "ivf":
        return {"type": "ivf", "nlist": spec.ivf.nlist, "nprobe": spec.ivf.nprobe}
    return {
        "type": "hnsw",
        "M": spec.hnsw.m,
        "ef_construction": spec.hnsw.ef_construction,
        "ef_search": spec.hnsw.ef_search,
    }
