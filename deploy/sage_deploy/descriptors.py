"""The descriptor set of Envoy's gRPC-JSON transcoder, made from the generated stubs.

Envoy maps a JSON/HTTP request to a gRPC method by the method's ``google.api.http`` rule, so
it reads the descriptors of the services it transcodes and of every file those import, and of
``google/rpc/error_details.proto``, whose ErrorInfo and BadRequest are the details of the
services' error statuses (they print as JSON only when Envoy knows their types). The
descriptors come from ``sage_proto``, the modules the services themselves are built from and
answer reflection with, so Envoy's schema is the services' own.

    python -m sage_deploy.descriptors OUT   # the set for every service that has HTTP rules
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor, ServiceDescriptor
from google.rpc import error_details_pb2

import sage_proto
from sage_deploy.envoy_config import write_atomic


@cache
def _stub_services() -> dict[str, ServiceDescriptor]:
    """Every service of the generated stubs, by full name (importing them fills the default pool)."""
    services: dict[str, ServiceDescriptor] = {}
    for module in pkgutil.walk_packages(sage_proto.__path__, f"{sage_proto.__name__}."):
        if module.name.endswith("_pb2"):
            file: FileDescriptor = importlib.import_module(module.name).DESCRIPTOR
            services.update((s.full_name, s) for s in file.services_by_name.values())
    return services


def http_rules(service: str) -> dict[str, http_pb2.HttpRule]:
    """The ``google.api.http`` rule of each method of ``service`` (a full proto name) that has one."""
    methods = _stub_services()[service].methods
    return {
        m.name: m.GetOptions().Extensions[annotations_pb2.http]
        for m in methods
        if m.GetOptions().HasExtension(annotations_pb2.http)
    }


def transcoded_services(grpc_services: Iterable[str] | None = None) -> list[str]:
    """The services among ``grpc_services`` (full proto names; every generated one when None)
    that have at least one ``google.api.http`` rule, sorted."""
    known = _stub_services()
    names = known if grpc_services is None else grpc_services
    return sorted(name for name in names if name in known and http_rules(name))


def descriptor_set(services: Iterable[str]) -> descriptor_pb2.FileDescriptorSet:
    """The files of ``services`` with all their imports (dependencies first) and the error details."""
    known = _stub_services()
    ordered: dict[str, FileDescriptor] = {}

    def add(file: FileDescriptor) -> None:
        if file.name not in ordered:
            for dependency in file.dependencies:
                add(dependency)
            ordered[file.name] = file

    for name in services:
        add(known[name].file)
    add(error_details_pb2.DESCRIPTOR)
    result = descriptor_pb2.FileDescriptorSet()
    for file in ordered.values():
        result.file.add().ParseFromString(file.serialized_pb)
    return result


def write_descriptor_set(path: Path, services: Iterable[str]) -> Path:
    """Write the set (atomically: Envoy must never read half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, descriptor_set(services).SerializeToString(deterministic=True))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="where to write the FileDescriptorSet")
    args = parser.parse_args()
    services = transcoded_services()
    write_descriptor_set(args.out, services)
    print(f"wrote {args.out}: {', '.join(services)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
