"""The floor of the gateway benchmark: a raw ASGI handler that answers every POST with one fixed
chat completion (no auth, no LLM, no pipeline) and ``GET /healthz`` with 200, served by the same
uvicorn (uvloop + httptools) behind the same Envoy configuration as the gateway. What is left of
the gateway's latency over this is the gateway's own work.

    uvicorn floor_app:app --app-dir bench --port PORT
"""

from __future__ import annotations

import json

_BODY = json.dumps(
    {
        "id": "chatcmpl-floor",
        "object": "chat.completion",
        "created": 0,
        "model": "mock",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "floor"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain the request body
        message = await receive()
        more = message.get("more_body", False)
    body = b"ok" if scope["path"] == "/healthz" else _BODY
    headers = _HEADERS if body is _BODY else [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
