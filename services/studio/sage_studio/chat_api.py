"""Seed 004's Studio backend contract, ``/studio/api/chat/*``, proxied to the gateway with the
caller's own credential (the gateway scopes sessions to it):

- ``POST /studio/api/chat/message`` ``{"message", "session_id"?, "model"?, "max_tokens"?}`` -> one chat turn
  (``/v1/chat/completions``), ``{"session_id", "content", "model", "usage"}``;
- ``GET /studio/api/chat/sessions`` and ``POST`` (``{"title"?}``) -> the gateway's ``/sessions``;
- ``DELETE /studio/api/chat/sessions/{id}``.

The browser's Chat page streams from ``/v1/chat/completions`` itself (through Envoy); these
routes are for clients of SAGE's Studio API."""

from __future__ import annotations

from typing import Any

import orjson

from sage_studio.errors import StudioError
from sage_studio.upstream import Gateway

DEFAULT_MODEL = "sage-default"


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise StudioError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StudioError(400, "the request body must be a JSON object")
    return data


class ChatAPI:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def message(self, authorization: str, body: bytes) -> tuple[int, bytes]:
        data = _json_object(body)
        text = data.get("message")
        if not isinstance(text, str) or not text.strip():
            raise StudioError(400, "`message` must be a non-empty string (the user's turn)")
        request: dict[str, Any] = {
            "model": str(data.get("model") or DEFAULT_MODEL),
            "messages": [{"role": "user", "content": text}],
        }
        if data.get("session_id"):
            request["session_id"] = str(data["session_id"])
        if "max_tokens" in data:  # the gateway checks it (a JSON integer >= 1)
            request["max_tokens"] = data["max_tokens"]
        reply = await self._gateway.request("POST", "/v1/chat/completions", authorization, request)
        if reply.status_code != 200:
            return reply.status_code, reply.content
        answer = reply.json()
        out = {
            "session_id": answer.get("session_id") or request.get("session_id"),
            "content": answer["choices"][0]["message"]["content"],
            "model": answer.get("model"),
            "usage": answer.get("usage"),
        }
        return 200, orjson.dumps(out)

    async def sessions(self, authorization: str) -> tuple[int, bytes]:
        reply = await self._gateway.request("GET", "/sessions", authorization)
        return reply.status_code, reply.content

    async def create(self, authorization: str, body: bytes) -> tuple[int, bytes]:
        data = _json_object(body)
        payload = {"title": data["title"]} if data.get("title") else {}
        reply = await self._gateway.request("POST", "/sessions", authorization, payload)
        return reply.status_code, reply.content

    async def delete(self, authorization: str, session_id: str) -> tuple[int, bytes]:
        reply = await self._gateway.request("DELETE", f"/sessions/{session_id}", authorization)
        return reply.status_code, reply.content
