"""grpcurl-style access: every service answers server reflection, so a client that has no
protos can list the services and describe a method (what `grpcurl list` / `describe` do)."""

from __future__ import annotations

import importlib

import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from sage_client.channels import authorized_channel
from tests.clients.conftest import SERVICES, ClientService, LiveMesh

# The method described per service: a streaming one where there is one, so the stream flags are checked too.
DESCRIBED_METHOD = {
    "kv": "Scan",
    "vdb": "Search",
    "llm": "GenerateStream",
    "memory": None,
    "kernel": "StreamJobEvents",
    "tsdb": "StreamJoin",  # a bidirectional stream
}


def _compiled_service(service: ClientService) -> ServiceDescriptor:
    """The service as the committed stubs know it (importing them fills the default pool)."""
    package = service.grpc_service.rsplit(".", 1)[0]  # sage.kv.v1
    _, name, version = package.split(".")
    importlib.import_module(f"sage_proto.{name}.{version}.{name}_pb2")
    return descriptor_pool.Default().FindServiceByName(service.grpc_service)


@pytest.mark.parametrize("service", SERVICES, ids=[s.name for s in SERVICES])
def test_reflection_lists_the_service_and_describes_a_method(
    service: ClientService, live_mesh: LiveMesh
) -> None:
    live_mesh.require(service.name)
    compiled = _compiled_service(service)
    method_name = DESCRIBED_METHOD[service.name] or compiled.methods[0].name
    expected = compiled.methods_by_name[method_name]

    with authorized_channel(live_mesh.instances[service.name]) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        listed = set(database.get_services())
        described = (
            DescriptorPool(database)
            .FindServiceByName(service.grpc_service)
            .methods_by_name[method_name]
        )

    assert {
        service.grpc_service,
        "grpc.health.v1.Health",
        "sage.common.v1.DiagnosticsService",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= listed
    assert described.input_type.full_name == expected.input_type.full_name
    assert described.output_type.full_name == expected.output_type.full_name
    assert [f.name for f in described.input_type.fields] == [
        f.name for f in expected.input_type.fields
    ]
    assert (described.client_streaming, described.server_streaming) == (
        expected.client_streaming,
        expected.server_streaming,
    )


def test_reflection_of_an_unknown_service_is_not_found(live_mesh: LiveMesh) -> None:
    with authorized_channel(live_mesh.instances["kv"]) as channel:
        pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        with pytest.raises(KeyError):
            pool.FindServiceByName("sage.kv.v1.NoSuchService")
