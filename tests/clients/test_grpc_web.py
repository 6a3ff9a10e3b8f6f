"""grpc-web through Envoy, as a browser sends it: an HTTP/1.1 POST whose body is gRPC's
length-prefixed framing (application/grpc-web+proto, or base64 of it for grpc-web-text). The
answer carries the message in a data frame and the status in a trailer frame (flag 0x80), or in
the headers when the call failed before any message (a trailers-only response)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest

from sage_client.channels import authorized_channel
from sage_client.credentials import default_metadata
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc
from tests.clients.conftest import LiveMesh

NS = "grpc-web"
TRAILER_FLAG = 0x80
CONTENT_TYPES = ("application/grpc-web+proto", "application/grpc-web-text")


def frame(payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BI", flags, len(payload)) + payload


@dataclass
class GrpcWebReply:
    messages: list[bytes]
    status: int
    message: str


def decode(reply: httpx.Response) -> GrpcWebReply:
    """Split the body into frames; the status comes from the trailer frame, else from the headers."""
    body = reply.content
    if reply.headers["content-type"].startswith("application/grpc-web-text"):
        # Envoy encodes each chunk on its own, so padding may come mid-body: decode per 4-char quantum.
        body = b"".join(base64.b64decode(body[i : i + 4]) for i in range(0, len(body), 4))
    messages, trailers = [], dict(reply.headers)
    while body:
        flags, length = struct.unpack(">BI", body[:5])
        payload, body = body[5 : 5 + length], body[5 + length :]
        if flags & TRAILER_FLAG:
            for line in payload.decode().split("\r\n"):
                if line:
                    name, _, value = line.partition(":")
                    trailers[name.strip().lower()] = value.strip()
        else:
            messages.append(payload)
    return GrpcWebReply(messages, int(trailers["grpc-status"]), trailers.get("grpc-message", ""))


def call(http: httpx.Client, method: str, request: bytes, content_type: str) -> GrpcWebReply:
    body = frame(request)
    if content_type == "application/grpc-web-text":
        body = base64.b64encode(body)
    reply = http.post(
        f"/sage.kv.v1.KVService/{method}",
        content=body,
        headers={"content-type": content_type, "x-grpc-web": "1", "accept": content_type},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith(content_type)
    return decode(reply)


@pytest.fixture(scope="module")
def http(live_mesh: LiveMesh) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"http://{live_mesh.envoy}", timeout=10, headers=dict(default_metadata())
    ) as client:
        yield client


@pytest.fixture(scope="module")
def greeting(live_mesh: LiveMesh) -> kv_pb2.Entry:
    """The key NS/greeting, written over plain gRPC."""
    with authorized_channel(live_mesh.envoy) as channel:
        stub = kv_pb2_grpc.KVServiceStub(channel)
        stub.Put(kv_pb2.PutRequest(namespace=NS, key="greeting", value=b"hello from grpc-web"))
        return stub.Get(kv_pb2.GetRequest(namespace=NS, key="greeting")).entry


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_call_answers_a_framed_message_and_an_ok_trailer(
    http: httpx.Client, greeting: kv_pb2.Entry, content_type: str
) -> None:
    reply = call(
        http,
        "Get",
        kv_pb2.GetRequest(namespace=NS, key="greeting").SerializeToString(),
        content_type,
    )
    assert reply.status == grpc.StatusCode.OK.value[0]
    [message] = reply.messages
    assert kv_pb2.GetResponse.FromString(message).entry == greeting


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_failed_call_carries_its_status_and_message(
    http: httpx.Client, greeting: kv_pb2.Entry, content_type: str
) -> None:
    reply = call(
        http, "Get", kv_pb2.GetRequest(namespace=NS, key="absent").SerializeToString(), content_type
    )
    assert reply.messages == []
    assert reply.status == grpc.StatusCode.NOT_FOUND.value[0]
    assert "absent" in reply.message
