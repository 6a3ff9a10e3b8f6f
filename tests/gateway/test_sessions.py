"""Sessions: history kept through the KV service, visible only to their owner (and admins)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from tests.gateway.conftest import LiveMesh


def chat(
    mesh: LiveMesh, key: str, content: str, session_id: str, header: bool = False
) -> httpx.Response:
    body: dict[str, object] = {
        "model": "mock",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 3,
    }
    headers = {"authorization": f"Bearer {key}"}
    if header:
        headers["x-session-id"] = session_id
    else:
        body["session_id"] = session_id
    return httpx.post(f"{mesh.base_url}/chat/completions", json=body, headers=headers, timeout=30)


def get(mesh: LiveMesh, key: str, path: str) -> httpx.Response:
    return httpx.get(
        f"{mesh.base_url}{path}", headers={"authorization": f"Bearer {key}"}, timeout=30
    )


def test_a_session_keeps_its_history_across_turns(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    key, sid = make_key("carol"), f"s-{uuid.uuid4().hex[:8]}"
    first = chat(live_mesh, key, "my name is carol", sid)
    second = chat(live_mesh, key, "what is my name", sid, header=True)
    assert first.status_code == 200 and second.status_code == 200
    # the second prompt holds the first turn, so it counts more prompt tokens
    assert second.json()["usage"]["prompt_tokens"] > first.json()["usage"]["prompt_tokens"]
    history = get(live_mesh, key, f"/sessions/{sid}").json()["history"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0]["content"] == "my name is carol"
    assert history[1]["content"] == first.json()["choices"][0]["message"]["content"]


def test_any_gateway_instance_serves_any_session(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    key, sid = make_key("dave"), f"s-{uuid.uuid4().hex[:8]}"
    instances = [f"http://{live_mesh.endpoints.instances[f'gateway-{i}']}/v1" for i in (0, 1)]
    headers = {"authorization": f"Bearer {key}", "x-session-id": sid}
    said = []
    for turn in range(4):  # alternate between the two instances, turn by turn
        content = f"turn {turn}"
        reply = httpx.post(
            f"{instances[turn % 2]}/chat/completions",
            headers=headers,
            timeout=30,
            json={
                "model": "mock",
                "messages": [{"role": "user", "content": content}],
                "max_tokens": 2,
            },
        )
        assert reply.status_code == 200, reply.text
        said += [content, reply.json()["choices"][0]["message"]["content"]]
    for base in instances:  # both see the whole history, in order
        history = httpx.get(f"{base}/sessions/{sid}", headers=headers, timeout=30).json()["history"]
        assert [m["content"] for m in history] == said


def test_two_keys_cannot_see_each_others_sessions(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    alice, bob, admin = make_key("alice"), make_key("bob"), make_key("root", admin=True)
    sid = f"private-{uuid.uuid4().hex[:8]}"
    assert chat(live_mesh, alice, "secret plans", sid).status_code == 200

    assert sid in [s["id"] for s in get(live_mesh, alice, "/sessions").json()["data"]]
    assert sid not in [s["id"] for s in get(live_mesh, bob, "/sessions").json()["data"]]
    hidden = get(live_mesh, bob, f"/sessions/{sid}")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    deleted = httpx.delete(
        f"{live_mesh.base_url}/sessions/{sid}", headers={"authorization": f"Bearer {bob}"}
    )
    assert deleted.status_code == 404
    # the same id in bob's hands is bob's own, separate session
    assert chat(live_mesh, bob, "other words", sid).status_code == 200
    assert len(get(live_mesh, alice, f"/sessions/{sid}").json()["history"]) == 2

    assert {sid} <= {s["id"] for s in get(live_mesh, admin, "/sessions").json()["data"]}


def test_delete_removes_a_session(live_mesh: LiveMesh, make_key: Callable[..., str]) -> None:
    key, sid = make_key("dave"), f"gone-{uuid.uuid4().hex[:8]}"
    chat(live_mesh, key, "hello", sid)
    deleted = httpx.delete(
        f"{live_mesh.base_url}/sessions/{sid}", headers={"authorization": f"Bearer {key}"}
    )
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert get(live_mesh, key, f"/sessions/{sid}").status_code == 404


def test_cleanup_needs_an_admin(live_mesh: LiveMesh, make_key: Callable[..., str]) -> None:
    user, admin = make_key("erin"), make_key("root", admin=True)
    refused = httpx.post(
        f"{live_mesh.base_url}/sessions/cleanup", headers={"authorization": f"Bearer {user}"}
    )
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
    done = httpx.post(
        f"{live_mesh.base_url}/sessions/cleanup", headers={"authorization": f"Bearer {admin}"}
    )
    assert done.status_code == 200 and done.json()["deleted"] >= 0


def test_a_bad_session_id_is_refused_with_the_field(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    reply = chat(live_mesh, make_key(), "hi", "not a valid id!")
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "session_id"
