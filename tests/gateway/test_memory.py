"""Sessions with memory: turns are stored in the Memory service, and the memories relevant to a
new message are put into its prompt (here with no history in the prompt, so only memory can
bring the first turn back)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from sage_client.memory import MemoryClient
from sage_deploy.topology import ServiceDef, Topology
from tests.gateway.conftest import LiveMesh, bring_up


@pytest.fixture(scope="module")
def memory_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    topology = Topology(etcd_port=0, etcd_peer_port=0, redis_port=0, envoy_port=0, envoy_admin_port=0, services=(
        ServiceDef("kv", "sage_kv", "sage.kv.v1.KVService", 0, 0, env={"SAGE_BACKEND": "redis"}),
        ServiceDef("llm", "sage_llm", "sage.llm.v1.LLMService", 0, 0, env={"SAGE_BACKEND": "mock"}),
        ServiceDef("vdb", "sage_vdb", "sage.vdb.v1.VDBService", 0, 0),
        ServiceDef("memory", "sage_memory", "sage.memory.v1.MemoryService", 0, 0),
        ServiceDef("gateway", "sage_gateway", "", 0, 0, http=True,
                   env={"SAGE_REQUIRE_AUTH": "false", "SAGE_SESSION_HISTORY_TURNS": "0",
                        "SAGE_PIPELINE_WORKERS": "4"}),
    ))
    yield from bring_up(tmp_path_factory.mktemp("memory-mesh"), topology)


def chat(mesh: LiveMesh, sid: str, content: str) -> dict:
    reply = httpx.post(f"{mesh.base_url}/chat/completions", timeout=60, json={
        "model": "mock", "messages": [{"role": "user", "content": content}], "max_tokens": 3,
        "session_id": sid, "memory": True})
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.slow
def test_turns_are_remembered_and_recalled_into_the_prompt(memory_mesh: LiveMesh) -> None:
    sid = f"mem-{uuid.uuid4().hex[:8]}"
    first = chat(memory_mesh, sid, "my favourite colour is teal")
    with MemoryClient(address=memory_mesh.endpoints.instances["memory-0"]) as memory:
        stored = [m["content"] for m in memory.list_session_memories(sid)]
    assert "my favourite colour is teal" in stored
    assert first["choices"][0]["message"]["content"] in stored

    second = chat(memory_mesh, sid, "what is my favourite colour")
    # no history goes into the prompt here: the extra prompt tokens are the recalled memories
    assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"] + 5
