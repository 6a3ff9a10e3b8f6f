"""The few ASGI primitives the gateway needs: read a body, send a whole response, send
server-sent events, and notice a client that went away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 16 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError("client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def header_list(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    headers: dict[str, str],
    content_type: str = "application/json",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *header_list(headers),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def start_event_stream(send: Send, headers: dict[str, str]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),
                *header_list(headers),
            ],
        }
    )


async def send_event(send: Send, data: bytes, more: bool = True) -> None:
    await send(
        {"type": "http.response.body", "body": b"data: " + data + b"\n\n", "more_body": more}
    )


async def wait_disconnect(receive: Receive, on_disconnect: Callable[[], None]) -> None:
    """Runs until the client disconnects (then calls ``on_disconnect``) or it is cancelled."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            on_disconnect()
            return
