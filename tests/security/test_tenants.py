"""Tenants kept apart: gateway memories are scoped by owner (``<owner>/<session id>`` in the
Memory service), deleting a session deletes its memories, and searching every session's
memories (an empty ``session_id``) is an admin-only call."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from sage_client import PermissionDenied
from sage_client.credentials import principal_token
from sage_client.memory import MemoryClient
from sage_gateway.memory_step import memory_session
from tests.gateway.conftest import LiveMesh, bring_up, memory_topology


@pytest.fixture(scope="module")
def tenant_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    topology = memory_topology(SAGE_KEY_CACHE_S="0")
    yield from bring_up(tmp_path_factory.mktemp("tenant-mesh"), topology)


def _chat(mesh: LiveMesh, key: str, sid: str, content: str) -> dict:
    reply = httpx.post(
        f"{mesh.base_url}/chat/completions",
        timeout=60,
        headers={"authorization": f"Bearer {key}"},
        json={
            "model": "mock",
            "messages": [{"role": "user", "content": content}],
            "max_tokens": 3,
            "temperature": 0,
            "session_id": sid,
            "memory": True,
        },
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def _contents(memory: MemoryClient, session_id: str) -> list[str]:
    return [m["content"] for m in memory.list_session_memories(session_id)]


@pytest.mark.slow
def test_another_key_reusing_a_session_id_never_sees_its_memories(tenant_mesh: LiveMesh) -> None:
    store = tenant_mesh.keys()
    tag = uuid.uuid4().hex[:8]
    alice, bob, carol = (f"{name}-{tag}" for name in ("alice", "bob", "carol"))
    key_a, key_b, key_c = (store.create("", user)[0] for user in (alice, bob, carol))
    sid = f"shared-{tag}"
    secret = "my secret code is zebra forty two"
    question = "what is my secret code"

    _chat(tenant_mesh, key_a, sid, secret)
    # Bob reuses Alice's session id: nothing of Alice's is recalled into his prompt, so his
    # prompt is exactly as long as Carol's, who asks the same in a session of her own.
    bob_turn = _chat(tenant_mesh, key_b, sid, question)
    carol_turn = _chat(tenant_mesh, key_c, f"fresh-{tag}", question)
    assert bob_turn["usage"]["prompt_tokens"] == carol_turn["usage"]["prompt_tokens"]
    # and Alice, asking in her own session, does get her memory back
    alice_turn = _chat(tenant_mesh, key_a, sid, question)
    assert alice_turn["usage"]["prompt_tokens"] > bob_turn["usage"]["prompt_tokens"] + 5

    with MemoryClient(address=tenant_mesh.endpoints.instances["memory-0"]) as memory:  # admin
        assert secret in _contents(memory, memory_session(alice, sid))
        assert secret not in _contents(memory, memory_session(bob, sid))
        assert _contents(memory, sid) == []  # nothing is stored under the bare session id


@pytest.mark.slow
def test_deleting_a_session_deletes_its_memories_and_only_its(tenant_mesh: LiveMesh) -> None:
    store = tenant_mesh.keys()
    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    key_a, key_b = store.create("", alice)[0], store.create("", bob)[0]
    sid = f"doomed-{tag}"
    _chat(tenant_mesh, key_a, sid, "alice likes green tea")
    _chat(tenant_mesh, key_b, sid, "bob likes black coffee")
    with MemoryClient(address=tenant_mesh.endpoints.instances["memory-0"]) as memory:
        assert "alice likes green tea" in _contents(memory, memory_session(alice, sid))

        reply = httpx.delete(
            f"{tenant_mesh.base_url}/sessions/{sid}",
            timeout=30,
            headers={"authorization": f"Bearer {key_a}"},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["deleted"] is True
        assert _contents(memory, memory_session(alice, sid)) == []
        assert "bob likes black coffee" in _contents(memory, memory_session(bob, sid))
    gone = httpx.get(
        f"{tenant_mesh.base_url}/sessions/{sid}",
        timeout=30,
        headers={"authorization": f"Bearer {key_a}"},
    )
    assert gone.status_code == 404


@pytest.mark.slow
def test_searching_every_session_is_admin_only(tenant_mesh: LiveMesh) -> None:
    address = tenant_mesh.endpoints.instances["memory-0"]
    tag = uuid.uuid4().hex[:8]
    with MemoryClient(address=address) as admin:
        admin.store_memory(f"someone/{tag}", f"private note {tag}")
        everyone = admin.search_memories(f"private note {tag}", top_k=5)  # admin: every session
        assert any(hit["content"] == f"private note {tag}" for hit in everyone)
    with MemoryClient(address=address, token=principal_token("gateway")) as gateway:
        with pytest.raises(PermissionDenied, match="admin-only"):
            gateway.search_memories(f"private note {tag}", top_k=5)
        # its own, scoped searches still work
        assert gateway.search_memories("anything", session_id=f"someone/{tag}", top_k=1)
