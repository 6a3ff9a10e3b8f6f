"""Chat with retrieval (`rag`): the last user message searched in a VDB collection the gateway
offers (rag_collections), the hits numbered in the prompt and returned as `sources`."""

from __future__ import annotations

import json

import httpx
import pytest

from sage_client import VDBClient
from tests.gateway.conftest import LiveMesh

DOCS = {
    "envoy": "Envoy is the front door of the mesh on port 8080",
    "etcd": "etcd holds every instance's registration under a lease",
    "redis": "Redis keeps the gateway's rate-limit counters",
}


@pytest.fixture(scope="module")
def rag_docs(memory_mesh: LiveMesh) -> LiveMesh:
    with VDBClient(address=memory_mesh.endpoints.instances["vdb-0"]) as vdb:
        if "rag-docs" not in {c.name for c in vdb.list_collections()}:
            vdb.create_collection("rag-docs", 2, metric="l2", index="flat")
            vdb.upsert(
                "rag-docs",
                list(DOCS),
                [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]],
                metadatas=[{"topic": k} for k in DOCS],
                documents=list(DOCS.values()),
            )
    return memory_mesh


def _chat(mesh: LiveMesh, question: str, **extra: object) -> httpx.Response:
    return httpx.post(
        f"{mesh.base_url}/chat/completions",
        timeout=60,
        json={
            "model": "mock",
            "messages": [{"role": "user", "content": question}],
            "max_tokens": 3,
            **extra,
        },
    )


def test_sources_are_retrieved_put_in_the_prompt_and_returned(rag_docs: LiveMesh) -> None:
    plain = _chat(rag_docs, "which lease holds the registration in etcd")
    assert plain.status_code == 200, plain.text
    assert "sources" not in plain.json()
    answered = _chat(
        rag_docs, "which lease holds the registration in etcd", rag={"collection": "rag-docs"}
    )
    assert answered.status_code == 200, answered.text
    body = answered.json()
    sources = body["sources"]
    assert sources[0]["id"] == "etcd" and sources[0]["document"] == DOCS["etcd"]
    assert sources[0]["metadata"] == {"topic": "etcd"}
    # the documents went into the prompt: it is longer by at least the first source's words
    grown = body["usage"]["prompt_tokens"] - plain.json()["usage"]["prompt_tokens"]
    assert grown >= len(DOCS["etcd"].split())
    one = _chat(
        rag_docs, "etcd registration lease", rag={"collection": "rag-docs", "top_k": 1}
    ).json()
    assert [s["id"] for s in one["sources"]] == ["etcd"]


def test_a_stream_carries_the_sources_on_its_first_chunk(rag_docs: LiveMesh) -> None:
    with httpx.stream(
        "POST",
        f"{rag_docs.base_url}/chat/completions",
        timeout=60,
        json={
            "model": "mock",
            "messages": [{"role": "user", "content": "what keeps the rate-limit counters"}],
            "max_tokens": 3,
            "stream": True,
            "rag": {"collection": "rag-docs"},
        },
    ) as reply:
        assert reply.status_code == 200
        events = [
            json.loads(line[len("data: ") :])
            for line in reply.iter_lines()
            if line.startswith("data: ") and line != "data: [DONE]"
        ]
    assert events[0]["sources"][0]["id"] == "redis"
    assert all("sources" not in e for e in events[1:])


@pytest.mark.parametrize(
    ("rag", "status", "code"),
    [
        ({"collection": "sage_memories"}, 400, "rag_collection_not_offered"),
        ({"collection": "other"}, 400, "rag_collection_not_offered"),
        ({"collection": "rag-docs", "top_k": 0}, 400, None),
        ({"collection": "rag-docs", "top_k": 21}, 400, None),
        ({"collection": "bad name!"}, 400, None),
        ({}, 400, None),
    ],
)
def test_only_offered_collections_and_bounded_top_k(
    rag_docs: LiveMesh, rag: dict, status: int, code: str | None
) -> None:
    reply = _chat(rag_docs, "anything", rag=rag)
    assert reply.status_code == status, reply.text
    if code is not None:
        error = reply.json()["error"]
        assert error["code"] == code and error["param"] == "rag.collection"
        assert "rag-docs" in error["message"]  # what is offered
