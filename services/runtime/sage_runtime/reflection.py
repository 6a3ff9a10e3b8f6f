"""Server reflection for the whole mesh, on every server.

Every service is built from the one stub package ``sage_proto``, so every server can describe
all of them: reflection lists every ``sage.*`` service of the package (found by walking it, so a
service added to ``protos/`` is listed once its stubs are generated) next to health and
reflection itself. A client that reaches any one instance — Envoy routes reflection to one —
can ``list`` and ``describe`` the whole mesh; which instances serve a service is discovery's
answer (``sage mesh status``), not reflection's.

Both reflection protocols are served: ``grpc.reflection.v1alpha`` (grpcio-reflection's) and
``grpc.reflection.v1``, the same messages under the name newer clients try first.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from functools import cache

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

import sage_proto

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"


class MeshReflectionServicer(ReflectionServicer):
    """grpcio-reflection's servicer, plus the symbols protobuf's pool does not index: a method
    (``sage.kv.v1.KVService.Put``, what ``grpcurl describe`` asks for) is in its service's file."""

    def _file_containing_symbol(self, request, fully_qualified_name):  # type: ignore[no-untyped-def]
        service, _, method = fully_qualified_name.rpartition(".")
        try:
            self._pool.FindFileContainingSymbol(fully_qualified_name)
        except KeyError:
            try:
                descriptor = self._pool.FindServiceByName(service)
            except KeyError:
                descriptor = None
            if descriptor is not None and method in descriptor.methods_by_name:
                fully_qualified_name = service
        return super()._file_containing_symbol(request, fully_qualified_name)


@cache
def mesh_services() -> tuple[str, ...]:
    """The full names of every ``sage.*`` service in the stub package, sorted (importing the
    modules puts their descriptors, and those of their imports, in the default pool)."""
    names: set[str] = set()
    for module in pkgutil.walk_packages(sage_proto.__path__, f"{sage_proto.__name__}."):
        if module.name.endswith("_pb2"):
            file = importlib.import_module(module.name).DESCRIPTOR
            names.update(s.full_name for s in file.services_by_name.values())
    return tuple(sorted(n for n in names if n.startswith("sage.")))


def reflected_names(own: Iterable[str] = ()) -> tuple[str, ...]:
    """What reflection lists: the mesh's services, ``own`` ones, health and both reflections."""
    return tuple(
        sorted(
            {
                *mesh_services(),
                *own,
                health.SERVICE_NAME,
                reflection.SERVICE_NAME,
                V1_SERVICE_NAME,
            }
        )
    )


def enable(server: grpc.aio.Server, own: Iterable[str] = ()) -> None:
    """Serve reflection (v1alpha and v1) for the whole mesh on ``server``."""
    servicer = MeshReflectionServicer(reflected_names(own))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    # grpc.reflection.v1's messages are v1alpha's, field for field: the same bytes on the wire.
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {"ServerReflectionInfo": v1}),)
    )
