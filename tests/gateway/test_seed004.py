"""Seed 004's walkthrough (SAGE Gateway phase 1) against a real gateway: curl /health, a chat
with `model: "sage-default"` by curl and by the OpenAI SDK, and SAGE's /sessions routes (list,
create, get, clear, title, delete, cleanup) beside /v1/sessions. The seed's curl sends no
credential; here every call but the liveness probe carries an API key (docs/security.md)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable

import httpx
import openai
import pytest

from tests.gateway.conftest import LiveMesh


def curl(*args: str) -> tuple[int, dict]:
    """Run curl as the seed does; (HTTP status, JSON body)."""
    out = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), json.loads(body) if body.strip() else {}


def auth(key: str) -> list[str]:
    return ["-H", f"Authorization: Bearer {key}"]


def test_health_is_open_and_says_healthy_without_data(live_mesh: LiveMesh) -> None:
    status, body = curl(f"{live_mesh.gateway_url}/health")
    assert status == 200
    assert body["status"] == "healthy"
    assert "sessions" not in body  # no one's data on an open route


def test_root_names_the_service_and_its_endpoints(live_mesh: LiveMesh) -> None:
    status, body = curl(f"{live_mesh.gateway_url}/")
    assert status == 200
    assert {"/v1/chat/completions", "/health", "/sessions"} <= set(body["endpoints"])


def test_curl_chat_with_sage_default_is_answered_by_the_default_model(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    request = {"model": "sage-default", "messages": [{"role": "user", "content": "Hello!"}]}
    status, body = curl(
        "-X",
        "POST",
        f"{live_mesh.gateway_url}/v1/chat/completions",
        "-H",
        "Content-Type: application/json",
        *auth(make_key("seed004")),
        "-d",
        json.dumps(request),
    )
    assert status == 200, body
    assert body["object"] == "chat.completion"
    assert body["model"] == "mock"  # the instance's own default model served it
    assert body["choices"][0]["message"]["content"]


def test_openai_sdk_with_sage_default(live_mesh: LiveMesh, make_key: Callable[..., str]) -> None:
    client = openai.OpenAI(
        base_url=f"{live_mesh.gateway_url}/v1", api_key=make_key("seed004"), max_retries=0
    )
    response = client.chat.completions.create(
        model="sage-default", messages=[{"role": "user", "content": "Hello!"}], max_tokens=4
    )
    assert response.choices[0].message.content
    assert "sage-default" in [m.id for m in client.models.list().data]


def test_sessions_routes_in_sage_shapes(live_mesh: LiveMesh, make_key: Callable[..., str]) -> None:
    key, url = make_key(f"walker-{uuid.uuid4().hex[:6]}"), live_mesh.gateway_url
    status, created = curl(
        "-X", "POST", f"{url}/sessions", *auth(key), "-d", json.dumps({"title": "Seed 004"})
    )
    assert status == 200, created
    sid = created["id"]
    assert created["metadata"]["title"] == "Seed 004" and created["messages"] == []

    chat = {
        "model": "sage-default",
        "messages": [{"role": "user", "content": "remember me"}],
        "session_id": sid,
        "max_tokens": 3,
    }
    status, _ = curl("-X", "POST", f"{url}/v1/chat/completions", *auth(key), "-d", json.dumps(chat))
    assert status == 200

    status, listing = curl(f"{url}/sessions", *auth(key))
    assert status == 200
    assert [s["id"] for s in listing["sessions"]] == [sid]
    assert listing["sessions"][0]["message_count"] == 2
    assert listing["stats"] == {"total_sessions": 1, "total_messages": 2}

    status, detail = curl(f"{url}/sessions/{sid}", *auth(key))
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][0]["content"] == "remember me"

    status, renamed = curl(
        "-X", "PATCH", f"{url}/sessions/{sid}/title", *auth(key), "-d", '{"title": "Renamed"}'
    )
    assert renamed == {"status": "updated", "session_id": sid, "title": "Renamed"}
    status, cleared = curl("-X", "POST", f"{url}/sessions/{sid}/clear", *auth(key))
    assert cleared == {"status": "cleared", "session_id": sid}
    # the same session through /v1/sessions: one implementation, two shapes
    v1 = httpx.get(f"{url}/v1/sessions/{sid}", headers={"authorization": f"Bearer {key}"}).json()
    assert v1["history"] == [] and v1["title"] == "Renamed"

    status, deleted = curl("-X", "DELETE", f"{url}/sessions/{sid}", *auth(key))
    assert deleted == {"status": "deleted", "session_id": sid}
    status, missing = curl(f"{url}/sessions/{sid}", *auth(key))
    assert status == 404 and missing["error"]["param"] == "session_id"


def test_v1_sessions_create_clear_title(live_mesh: LiveMesh, make_key: Callable[..., str]) -> None:
    headers = {"authorization": f"Bearer {make_key('v1-sessions')}"}
    base = f"{live_mesh.base_url}/sessions"  # through Envoy
    created = httpx.post(base, headers=headers, json={}).json()
    assert created["object"] == "session" and created["title"] == "New Chat"
    titled = httpx.patch(f"{base}/{created['id']}/title", headers=headers, json={"title": "x" * 99})
    assert titled.json()["title"] == "x" * 60  # SAGE's length
    assert httpx.post(f"{base}/{created['id']}/clear", headers=headers).json()["cleared"] is True


def test_cleanup_with_max_age_is_admin_only_and_removes_idle_sessions(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    user = {"authorization": f"Bearer {make_key('idle-user')}"}
    url = live_mesh.gateway_url
    sid = httpx.post(f"{url}/sessions", headers=user, json={}).json()["id"]
    refused = httpx.post(f"{url}/sessions/cleanup", headers=user)
    assert refused.status_code == 403
    admin = {"authorization": f"Bearer {make_key('idle-admin', admin=True)}"}
    bad = httpx.post(f"{url}/sessions/cleanup?max_age_minutes=soon", headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "max_age_minutes"
    kept = httpx.post(f"{url}/sessions/cleanup?max_age_minutes=600", headers=admin).json()
    assert kept["status"] == "cleaned"
    assert httpx.get(f"{url}/sessions/{sid}", headers=user).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/sessions"), ("POST", "/sessions"), ("GET", "/sessions/abc"), ("GET", "/v1/models")],
)
def test_session_routes_refuse_a_caller_without_a_credential(
    live_mesh: LiveMesh, method: str, path: str
) -> None:
    reply = httpx.request(method, f"{live_mesh.gateway_url}{path}")
    assert reply.status_code == 401
    assert reply.json()["error"]["type"] == "authentication_error"


def test_bad_title_is_a_400_and_changes_nothing(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    headers = {"authorization": f"Bearer {make_key('titler')}"}
    url = live_mesh.gateway_url
    sid = httpx.post(f"{url}/sessions", headers=headers, json={"title": "kept"}).json()["id"]
    for body in ('{"title": 5}', "{}", "not json"):
        reply = httpx.patch(f"{url}/sessions/{sid}/title", headers=headers, content=body)
        assert reply.status_code == 400, body
    assert httpx.get(f"{url}/sessions/{sid}", headers=headers).json()["metadata"]["title"] == "kept"
    assert httpx.put(f"{url}/sessions/{sid}", headers=headers).status_code == 405
