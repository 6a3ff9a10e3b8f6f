"""Sessions with memory: turns are stored in the Memory service, and the memories relevant to a
new message are put into its prompt (here with no history in the prompt, so only memory can
bring the first turn back)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from sage_client.memory import MemoryClient
from sage_gateway.memory_step import memory_session
from tests.gateway.conftest import LiveMesh


def chat(mesh: LiveMesh, sid: str, content: str) -> dict:
    reply = httpx.post(
        f"{mesh.base_url}/chat/completions",
        timeout=60,
        json={
            "model": "mock",
            "messages": [{"role": "user", "content": content}],
            "max_tokens": 3,
            "session_id": sid,
            "memory": True,
        },
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.slow
def test_turns_are_remembered_and_recalled_into_the_prompt(memory_mesh: LiveMesh) -> None:
    sid = f"mem-{uuid.uuid4().hex[:8]}"
    first = chat(memory_mesh, sid, "my favourite colour is teal")
    with MemoryClient(address=memory_mesh.endpoints.instances["memory-0"]) as memory:
        # this gateway has no auth: the owner is "anonymous", and memories are scoped by it
        stored = [
            m["content"] for m in memory.list_session_memories(memory_session("anonymous", sid))
        ]
    assert "my favourite colour is teal" in stored
    assert first["choices"][0]["message"]["content"] in stored

    second = chat(memory_mesh, sid, "what is my favourite colour")
    # no history goes into the prompt here: the extra prompt tokens are the recalled memories
    assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"] + 5
