"""A minimal VDB service over ``sage_native`` for the memory tests while ``sage_vdb`` is not on
this branch: the RPCs the memory service uses (Get/CreateCollection, Upsert, DeletePoints,
Search), on the shared runtime (health, etcd registration), collections persisted under
``data_dir`` so a restarted process keeps its points. The tests use ``sage_vdb`` when installed.

Run: ``python -m tests.memory.vdb_standin`` (SAGE_* settings as for every service).
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import json_format

import sage_native
from sage_client.memory import metadata_dict
from sage_proto.common.v1 import common_pb2
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc
from sage_runtime import ServiceConfig, ServiceSpec, service_main
from sage_runtime import errors as err

_METRICS = {vdb_pb2.METRIC_UNSPECIFIED: "cosine", vdb_pb2.METRIC_COSINE: "cosine", vdb_pb2.METRIC_IP: "ip",
            vdb_pb2.METRIC_L2: "l2"}


def _metadata(values: dict[str, Any]) -> common_pb2.Metadata:
    out = common_pb2.Metadata()
    for key, value in values.items():
        field = out.fields[key]
        if isinstance(value, bool):
            field.bool_value = value
        elif isinstance(value, int):
            field.int_value = value
        elif isinstance(value, float):
            field.double_value = value
        elif isinstance(value, str):
            field.string_value = value
        else:
            field.string_list_value.values.extend(value)
    return out


class StandInVDB(vdb_pb2_grpc.VDBServiceServicer):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.collections: dict[str, tuple[vdb_pb2.Collection, Any]] = {}
        root.mkdir(parents=True, exist_ok=True)
        for path in sorted(root.iterdir()):
            col = sage_native.Collection.open(str(path))
            described = vdb_pb2.Collection.FromString((root.parent / f"{path.name}.pb").read_bytes())
            self.collections[path.name] = (described, col)

    def _get(self, name: str) -> tuple[vdb_pb2.Collection, Any]:
        found = self.collections.get(name)
        if found is None:
            raise err.not_found(f"collection {name!r} not found")
        return found

    async def CreateCollection(self, request: Any, context: Any) -> Any:
        spec = request.collection
        with self.lock:
            if spec.name in self.collections:
                raise err.already_exists(f"collection {spec.name!r} exists")
            col = sage_native.Collection.create(str(self.root / spec.name), dim=spec.dimension,
                                                metric=_METRICS[spec.metric], index="hnsw", fsync="none")
            (self.root.parent / f"{spec.name}.pb").write_bytes(spec.SerializeToString())
            self.collections[spec.name] = (spec, col)
        return vdb_pb2.CreateCollectionResponse(collection=spec)

    async def GetCollection(self, request: Any, context: Any) -> Any:
        spec, col = self._get(request.name)
        out = vdb_pb2.Collection()
        out.CopyFrom(spec)
        out.count = col.count()
        return vdb_pb2.GetCollectionResponse(collection=out)

    async def Upsert(self, request: Any, context: Any) -> Any:
        spec, col = self._get(request.collection)
        points = request.points
        vectors = np.frombuffer(points.vectors, dtype="<f4").reshape(len(points.ids), -1)
        try:
            col.upsert(list(points.ids), vectors, metadatas=[metadata_dict(m) for m in points.metadatas] or None)
        except ValueError as exc:
            raise err.invalid_argument("points", str(exc)) from None
        if request.durability == vdb_pb2.DURABILITY_SYNC:
            col.flush()
        return vdb_pb2.UpsertResponse(upserted_count=len(points.ids))

    async def DeletePoints(self, request: Any, context: Any) -> Any:
        spec, col = self._get(request.collection)
        where = json_format.MessageToDict(request.where) if request.HasField("where") else None
        try:
            deleted = col.delete(ids=list(request.ids) or None, where=where)
        except ValueError as exc:
            raise err.invalid_argument("where", str(exc)) from None
        return vdb_pb2.DeletePointsResponse(deleted_count=deleted)

    async def Search(self, request: Any, context: Any) -> Any:
        spec, col = self._get(request.collection)
        queries = np.frombuffer(request.queries, dtype="<f4").reshape(-1, spec.dimension)
        where = json_format.MessageToDict(request.where) if request.HasField("where") else None
        try:
            hits = col.search(queries, k=request.top_k, where=where, include=["metadatas"])
        except ValueError as exc:
            raise err.invalid_argument("where", str(exc)) from None
        results = []
        for row, ids in enumerate(hits["ids"]):
            results.append(vdb_pb2.QueryResult(ids=ids, scores=hits["scores"][row][: len(ids)].tolist(),
                                               metadatas=[_metadata(m) for m in hits["metadatas"][row]]))
        return vdb_pb2.SearchResponse(results=results)


def build_spec(config: ServiceConfig) -> ServiceSpec:
    servicer = StandInVDB(Path(config.data_dir) / "collections")

    async def stop() -> None:
        for _, col in servicer.collections.values():
            col.close()

    return ServiceSpec(
        name="vdb",
        service_names=(vdb_pb2.DESCRIPTOR.services_by_name["VDBService"].full_name,),
        add_servicers=lambda server: vdb_pb2_grpc.add_VDBServiceServicer_to_server(servicer, server),
        stop=stop,
    )


if __name__ == "__main__":
    sys.exit(service_main(ServiceConfig, build_spec, prog="vdb-standin"))
