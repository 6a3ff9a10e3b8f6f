#!/usr/bin/env python3
"""Generate docs/api.md from the comments in protos/ (the one command).

    python scripts/gen_api_docs.py          # rewrite docs/api.md
    python scripts/gen_api_docs.py --check  # exit 1 if docs/api.md is stale

protoc (from grpcio-tools, as for the Python stubs) compiles protos/ into a descriptor
set with source info; the comments come from there, so the doc says exactly what the
contracts say, and each RPC's HTTP binding (its `google.api.http` rule, which Envoy serves as
JSON) from the same descriptors. Every service, RPC, message, field, enum and enum value must have a
comment (buf lint's COMMENTS rules enforce the same); the generator names any that lacks one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from google.api import annotations_pb2  # registers the google.api.http option, so it parses
from google.protobuf import descriptor_pb2

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # scripts/, also when this file is imported by path
from proto_deps import include_dir  # noqa: E402  (google/api from googleapis-common-protos)

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUTPUT = ROOT / "docs" / "api.md"

# FileDescriptorProto / DescriptorProto / ... field numbers used in SourceCodeInfo paths.
FILE_PACKAGE, FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 2, 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM, MESSAGE_ONEOF = 2, 3, 4, 8
ENUM_VALUE, SERVICE_METHOD = 2, 2

_SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: "float",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED32: "fixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: "uint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED32: "sfixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT32: "sint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: "sint64",
}
_WELL_KNOWN = "https://protobuf.dev/reference/protobuf/google.protobuf/#"


def compile_protos(proto_root: Path = PROTO_ROOT) -> descriptor_pb2.FileDescriptorSet:
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    builtin = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        args = [
            "protoc",
            f"-I{proto_root}",
            f"-I{builtin}",
            f"-I{include_dir()}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed (see the message above)")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


@dataclass
class Comments:
    """The leading (or else trailing) comment of each element of one file, by source path."""

    file: descriptor_pb2.FileDescriptorProto
    by_path: dict[tuple[int, ...], str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for loc in self.file.source_code_info.location:
            text = (loc.leading_comments or loc.trailing_comments).strip()
            if text:
                self.by_path[tuple(loc.path)] = " ".join(line.strip() for line in text.splitlines())

    def get(self, path: tuple[int, ...], what: str) -> str:
        text = self.by_path.get(path, "")
        if not text:
            self.missing.append(f"{self.file.name}: {what}")
        return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _type_link(type_name: str, local_types: set[str]) -> str:
    name = type_name.lstrip(".")
    if name.startswith("google.protobuf."):
        short = name.rsplit(".", 1)[1]
        return f"[{name}]({_WELL_KNOWN}{short.lower()})"
    if name in local_types:
        return f"[{name.rsplit('.', 1)[1]}](#{name})"
    return f"`{name}`"


@dataclass
class FileDoc:
    proto: descriptor_pb2.FileDescriptorProto
    comments: Comments
    local_types: set[str]
    lines: list[str] = field(default_factory=list)

    def type_of(
        self,
        f: descriptor_pb2.FieldDescriptorProto,
        map_entries: dict[str, descriptor_pb2.DescriptorProto],
    ) -> str:
        if f.type_name.lstrip(".") in map_entries:
            entry = map_entries[f.type_name.lstrip(".")]
            key, value = entry.field[0], entry.field[1]
            # Escaped: a bare "<" in a Markdown table can be taken for HTML.
            return (
                f"map&lt;{self.type_of(key, map_entries)}, {self.type_of(value, map_entries)}&gt;"
            )
        if f.type_name:
            return _type_link(f.type_name, self.local_types)
        return _SCALARS[f.type]

    def render(self) -> list[str]:
        p = self.proto
        self.lines += [
            f"## {p.package}",
            "",
            f"`{p.name}` — {self.comments.get((FILE_PACKAGE,), 'package')}",
            "",
        ]
        for i, service in enumerate(p.service):
            self.service(service, (FILE_SERVICE, i))
        for i, message in enumerate(p.message_type):
            self.message(message, (FILE_MESSAGE, i), p.package)
        for i, enum in enumerate(p.enum_type):
            self.enum(enum, (FILE_ENUM, i), p.package)
        return self.lines

    def service(
        self, service: descriptor_pb2.ServiceDescriptorProto, path: tuple[int, ...]
    ) -> None:
        full = f"{self.proto.package}.{service.name}"
        bindings = [_http_binding(method) for method in service.method]
        http = any(bindings)  # the HTTP column only for services that have a binding
        self.lines += [
            f'### <a id="{full}"></a>service {service.name}',
            "",
            self.comments.get(path, f"service {full}"),
            "",
            "| RPC | request | response |"
            + (" HTTP (JSON, through Envoy) |" if http else "")
            + " description |",
            "|---|---|---|" + ("---|" if http else "") + "---|",
        ]
        for j, method in enumerate(service.method):
            request = ("stream " if method.client_streaming else "") + _type_link(
                method.input_type, self.local_types
            )
            response = ("stream " if method.server_streaming else "") + _type_link(
                method.output_type, self.local_types
            )
            text = self.comments.get((*path, SERVICE_METHOD, j), f"rpc {full}.{method.name}")
            binding = (f" `{bindings[j]}` |" if bindings[j] else " — |") if http else ""
            self.lines.append(
                f"| `{method.name}` | {request} | {response} |{binding} {_cell(text)} |"
            )
        self.lines.append("")

    def message(
        self, message: descriptor_pb2.DescriptorProto, path: tuple[int, ...], scope: str
    ) -> None:
        full = f"{scope}.{message.name}"
        map_entries = {f"{full}.{n.name}": n for n in message.nested_type if n.options.map_entry}
        self.lines += [
            f'### <a id="{full}"></a>message {full.removeprefix(self.proto.package + ".")}',
            "",
            self.comments.get(path, f"message {full}"),
            "",
        ]
        if message.field:
            self.lines += ["| field | type | number | description |", "|---|---|---|---|"]
            for j, f in enumerate(message.field):
                label = ""
                if (
                    f.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                    and f.type_name.lstrip(".") not in map_entries
                ):
                    label = "repeated "
                elif f.proto3_optional:
                    label = "optional "
                elif f.HasField("oneof_index"):
                    label = f"oneof `{message.oneof_decl[f.oneof_index].name}`: "
                text = self.comments.get((*path, MESSAGE_FIELD, j), f"field {full}.{f.name}")
                self.lines.append(
                    f"| `{f.name}` | {label}{self.type_of(f, map_entries)} | {f.number} | {_cell(text)} |"
                )
            self.lines.append("")
        for k, oneof in enumerate(message.oneof_decl):
            if not oneof.name.startswith(
                "_"
            ):  # synthetic oneofs of proto3 `optional` have no comment
                self.comments.get((*path, MESSAGE_ONEOF, k), f"oneof {full}.{oneof.name}")
        for k, nested in enumerate(message.nested_type):
            if not nested.options.map_entry:
                self.message(nested, (*path, MESSAGE_NESTED, k), full)
        for k, enum in enumerate(message.enum_type):
            self.enum(enum, (*path, MESSAGE_ENUM, k), full)

    def enum(
        self, enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], scope: str
    ) -> None:
        full = f"{scope}.{enum.name}"
        self.lines += [
            f'### <a id="{full}"></a>enum {full.removeprefix(self.proto.package + ".")}',
            "",
            self.comments.get(path, f"enum {full}"),
            "",
            "| value | number | description |",
            "|---|---|---|",
        ]
        for j, value in enumerate(enum.value):
            text = self.comments.get((*path, ENUM_VALUE, j), f"enum value {full}.{value.name}")
            self.lines.append(f"| `{value.name}` | {value.number} | {_cell(text)} |")
        self.lines.append("")


def _http_binding(method: descriptor_pb2.MethodDescriptorProto) -> str:
    """``"GET /v1/..."`` from the method's google.api.http rule; empty when it has none."""
    if not method.options.HasExtension(annotations_pb2.http):
        return ""
    rule = method.options.Extensions[annotations_pb2.http]
    verb = rule.WhichOneof("pattern")
    if verb is None:
        return ""
    if verb == "custom":
        return f"{rule.custom.kind} {rule.custom.path}"
    return f"{verb.upper()} {getattr(rule, verb)}"


def _type_names(proto: descriptor_pb2.FileDescriptorProto) -> Iterator[str]:
    def walk(messages, enums, scope: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
        for e in enums:
            yield f"{scope}.{e.name}"
        for m in messages:
            yield f"{scope}.{m.name}"
            yield from walk(m.nested_type, m.enum_type, f"{scope}.{m.name}")

    yield from walk(proto.message_type, proto.enum_type, proto.package)
    for s in proto.service:
        yield f"{proto.package}.{s.name}"


def render(files: descriptor_pb2.FileDescriptorSet) -> tuple[str, list[str]]:
    """The Markdown of docs/api.md and the elements that have no comment."""
    ours = sorted(
        (f for f in files.file if not f.name.startswith("google/")), key=lambda f: f.package
    )
    local_types = {name for f in ours for name in _type_names(f)}
    lines = [
        "# SAGE Mesh API reference",
        "",
        "<!-- Generated from the comments in protos/ by `python scripts/gen_api_docs.py`; do not edit. -->",
        "",
        "Every service also hosts `grpc.health.v1.Health`, server reflection and",
        "`sage.common.v1.DiagnosticsService`. Errors are described in [mesh.md](mesh.md#errors);",
        "access with grpcurl in [grpcurl.md](grpcurl.md). The RPCs with an HTTP binding are also",
        "served as JSON by Envoy: [deploy.md](deploy.md#jsonhttp-and-browsers).",
        "",
        "## Contents",
        "",
    ]
    for f in ours:
        services = ", ".join(f"[{s.name}](#{f.package}.{s.name})" for s in f.service)
        lines.append(
            f"- [{f.package}](#{f.package.replace('.', '')})"
            + (f": {services}" if services else "")
        )
    lines.append("")
    missing: list[str] = []
    for f in ours:
        doc = FileDoc(f, Comments(f), local_types)
        lines += doc.render()
        missing += doc.comments.missing
    return "\n".join(lines).rstrip() + "\n", missing


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if docs/api.md differs from a fresh generation"
    )
    args = parser.parse_args()
    text, missing = render(compile_protos())
    if missing:
        print(
            "these elements of protos/ have no comment; add a `//` comment above each:",
            *missing,
            sep="\n  ",
        )
        return 1
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print("docs/api.md is stale; run `python scripts/gen_api_docs.py`")
            return 1
        print("docs/api.md is up to date")
        return 0
    OUTPUT.write_text(text)
    print(f"generated {OUTPUT.relative_to(ROOT)} from {PROTO_ROOT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
