"""The subset of grpcurl that docs/grpcurl.md uses, in Python, so the doc's commands run in the
tests where grpcurl is not installed: `-plaintext`, `-H`, `-d`, `-protoset`, `-format-error`,
and `list` / `describe` / calls (unary and server-streaming) with JSON in and out. Like grpcurl,
it learns the schema from server reflection, or from a descriptor set given with -protoset."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, json_format, message_factory
from google.protobuf.descriptor import Descriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from sage_client.channels import metadata_channel


class GrpcurlError(Exception):
    """A call ended with a non-OK status (grpcurl prints it and exits non-zero)."""


@dataclass
class Command:
    address: str
    verb: str  # "list", "describe" or "call"
    target: str = ""  # service, symbol or "package.Service/Method"
    data: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    protoset: str = ""


def parse(command_line: str) -> Command:
    args = shlex.split(command_line)
    if not args or args[0] != "grpcurl":
        raise ValueError(f"not a grpcurl command: {command_line!r}")
    data, protoset, headers, rest = "", "", [], []
    it = iter(args[1:])
    for arg in it:
        if arg in ("-plaintext", "-format-error"):
            continue
        if arg == "-d":
            data = next(it)
        elif arg == "-H":
            name, _, value = next(it).partition(":")
            headers.append((name.strip().lower(), value.strip()))
        elif arg == "-protoset":
            protoset = next(it)
        elif arg.startswith("-"):
            raise ValueError(f"flag {arg} is not supported by this test client")
        else:
            rest.append(arg)
    address, *words = rest
    if words and words[0] in ("list", "describe"):
        return Command(
            address, words[0], words[1] if len(words) > 1 else "", data, headers, protoset
        )
    return Command(address, "call", words[0], data, headers, protoset)


def _pool(
    channel: grpc.Channel, protoset: str, cwd: Path
) -> tuple[DescriptorPool, ProtoReflectionDescriptorDatabase | None]:
    if protoset:
        files = descriptor_pb2.FileDescriptorSet.FromString((cwd / protoset).read_bytes())
        pool = DescriptorPool()
        for proto in files.file:  # buf writes dependencies first
            pool.Add(proto)
        return pool, None
    database = ProtoReflectionDescriptorDatabase(channel)
    return DescriptorPool(database), database


def _describe(pool: DescriptorPool, symbol: str) -> str:
    try:
        service: ServiceDescriptor = pool.FindServiceByName(symbol)
        return "\n".join(
            f"rpc {m.name}({m.input_type.full_name}) returns ({m.output_type.full_name})"
            for m in service.methods
        )
    except KeyError:
        pass
    try:
        message: Descriptor = pool.FindMessageTypeByName(symbol)
        return "\n".join(f"{f.name} = {f.number}" for f in message.fields)
    except KeyError:
        pass
    service_name, _, method_name = symbol.rpartition(".")
    method: MethodDescriptor = pool.FindServiceByName(service_name).methods_by_name[method_name]
    stream = "stream " if method.server_streaming else ""
    return f"rpc {method.name}({method.input_type.full_name}) returns ({stream}{method.output_type.full_name})"


def run(command_line: str, cwd: Path = Path(".")) -> str:
    """Runs one grpcurl command line; returns what grpcurl would print."""
    command = parse(command_line)
    with metadata_channel(
        command.address, command.headers
    ) as channel:  # -H: reflection and calls, as grpcurl
        pool, database = _pool(channel, command.protoset, cwd)
        if command.verb == "list":
            if command.target:
                return "\n".join(
                    f"{command.target}.{m.name}"
                    for m in pool.FindServiceByName(command.target).methods
                )
            assert database is not None, "list needs reflection"
            return "\n".join(sorted(database.get_services()))
        if command.verb == "describe":
            return _describe(pool, command.target)
        service_name, _, method_name = command.target.partition("/")
        method = pool.FindServiceByName(service_name).methods_by_name[method_name]
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        request = json_format.Parse(command.data or "{}", request_class())
        path = f"/{service_name}/{method_name}"
        try:
            if method.server_streaming:
                call = channel.unary_stream(
                    path,
                    request_serializer=request_class.SerializeToString,
                    response_deserializer=response_class.FromString,
                )
                replies = list(call(request, timeout=30))
            else:
                call = channel.unary_unary(
                    path,
                    request_serializer=request_class.SerializeToString,
                    response_deserializer=response_class.FromString,
                )
                replies = [call(request, timeout=30)]
        except grpc.RpcError as error:
            code = "".join(
                word.capitalize() for word in error.code().name.split("_")
            )  # as Go prints it
            raise GrpcurlError(f"Code: {code}, Message: {error.details()}") from error
        return "\n".join(json_format.MessageToJson(r, indent=2) for r in replies)
