"""OpenAI response bodies built from a finished (or streaming) ``Turn``."""

from __future__ import annotations

from typing import Any

import orjson

from sage_gateway.chat_pipeline import Turn


def _usage(turn: Turn) -> dict[str, int]:
    u = turn.usage
    return {
        "prompt_tokens": u.get("prompt_tokens", 0),
        "completion_tokens": u.get("completion_tokens", 0),
        "total_tokens": u.get("total_tokens", 0),
    }


def _finish(turn: Turn) -> str:
    return turn.finish_reason if turn.finish_reason in ("stop", "length") else "stop"


def chat_completion(turn: Turn) -> bytes:
    body: dict[str, Any] = {
        "id": f"chatcmpl-{turn.id}",
        "object": "chat.completion",
        "created": turn.created,
        "model": turn.served_model or turn.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": turn.text},
                "logprobs": None,
                "finish_reason": _finish(turn),
            }
        ],
        "usage": _usage(turn),
    }
    if turn.session_id:
        body["session_id"] = turn.session_id
    if turn.rag_collection is not None:
        body["sources"] = turn.sources
    return orjson.dumps(body)


def text_completion(turn: Turn, echo_prompt: str = "") -> bytes:
    return orjson.dumps(
        {
            "id": f"cmpl-{turn.id}",
            "object": "text_completion",
            "created": turn.created,
            "model": turn.served_model or turn.model,
            "choices": [
                {
                    "index": 0,
                    "text": echo_prompt + turn.text,
                    "logprobs": None,
                    "finish_reason": _finish(turn),
                }
            ],
            "usage": _usage(turn),
        }
    )


class ChunkWriter:
    """The ``data:`` payloads of one streamed chat or text completion."""

    def __init__(self, turn: Turn, chat: bool) -> None:
        self._turn = turn
        self._chat = chat
        self._first = True
        if chat:
            self._head = (
                b'{"id":"chatcmpl-%s","object":"chat.completion.chunk","created":%d,"model":%s,"choices":'
                % (turn.id.encode(), turn.created, orjson.dumps(turn.model))
            )
        else:
            self._head = (
                b'{"id":"cmpl-%s","object":"text_completion","created":%d,"model":%s,"choices":'
                % (turn.id.encode(), turn.created, orjson.dumps(turn.model))
            )

    def delta(self, text: str) -> bytes:
        extra = b""
        if self._chat:
            delta: dict[str, str] = {"content": text}
            if self._first:
                delta = {"role": "assistant", "content": text}
                self._first = False
                if self._turn.rag_collection is not None:  # the sources ride on the first chunk
                    extra = b',"sources":' + orjson.dumps(self._turn.sources)
            choice: dict[str, Any] = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": None,
            }
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": None}
        return self._head + orjson.dumps([choice]) + extra + b"}"

    def finish(self) -> bytes:
        finish = _finish(self._turn)
        extra = b""
        if self._chat and self._first and self._turn.rag_collection is not None:
            extra = b',"sources":' + orjson.dumps(self._turn.sources)  # nothing was generated
        if self._chat:
            delta = {"role": "assistant", "content": ""} if self._first else {}
            choice: dict[str, Any] = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": finish,
            }
        else:
            choice = {"index": 0, "text": "", "logprobs": None, "finish_reason": finish}
        return self._head + orjson.dumps([choice]) + extra + b"}"

    def usage(self) -> bytes:
        return self._head + b'[],"usage":' + orjson.dumps(_usage(self._turn)) + b"}"
