"""The official OpenAI SDK against a live gateway, through Envoy."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest

from tests.gateway.conftest import LiveMesh


def client(mesh: LiveMesh, key: str, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=mesh.base_url, api_key=key, max_retries=0, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_non_streaming_chat_completion(live_mesh: LiveMesh, make_key: Callable[..., str]) -> None:
    reply = client(live_mesh, make_key()).chat.completions.create(
        model="mock", messages=[{"role": "user", "content": "hello there"}], max_tokens=5
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert len(reply.choices[0].message.content.split()) == 5
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 5
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 5


def test_streaming_with_usage_ends_with_a_usage_chunk(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    stream = client(live_mesh, make_key()).chat.completions.create(
        model="mock",
        messages=[{"role": "user", "content": "tell me"}],
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 6
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6


def test_streamed_text_equals_the_non_streamed_text(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    sdk = client(live_mesh, make_key())
    messages = [{"role": "user", "content": "same words"}]
    whole = sdk.chat.completions.create(
        model="mock", messages=messages, max_tokens=7, temperature=0
    )
    parts = sdk.chat.completions.create(
        model="mock", messages=messages, max_tokens=7, temperature=0, stream=True
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
        == whole.choices[0].message.content
    )


def test_text_completion(live_mesh: LiveMesh, make_key: Callable[..., str]) -> None:
    reply = client(live_mesh, make_key()).completions.create(
        model="mock", prompt="once upon", max_tokens=4
    )
    assert reply.object == "text_completion"
    assert len(reply.choices[0].text.split()) == 4


def test_models_lists_the_mock_model(live_mesh: LiveMesh, make_key: Callable[..., str]) -> None:
    models = client(live_mesh, make_key()).models.list()
    assert "mock" in [m.id for m in models.data]


def test_a_bad_key_is_an_authentication_error(live_mesh: LiveMesh) -> None:
    with pytest.raises(openai.AuthenticationError) as err:
        client(live_mesh, "sk-sage-not-a-real-key").models.list()
    assert err.value.status_code == 401
    assert err.value.body["type"] == "authentication_error"  # type: ignore[index]


def test_a_rate_limited_key_gets_a_rate_limit_error(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    sdk = client(live_mesh, make_key("limited", rpm=2))
    for _ in range(2):
        sdk.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "hi"}], max_tokens=1
        )
    with pytest.raises(openai.RateLimitError) as err:
        sdk.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "hi"}], max_tokens=1
        )
    headers = err.value.response.headers
    assert int(headers["retry-after"]) >= 1
    assert (
        headers["x-ratelimit-limit-requests"] == "2"
        and headers["x-ratelimit-remaining-requests"] == "0"
    )


def test_a_token_limit_refuses_once_the_tokens_are_spent(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    sdk = client(live_mesh, make_key("token-limited", tpm=10))
    sdk.chat.completions.create(
        model="mock", messages=[{"role": "user", "content": "hi"}], max_tokens=12
    )
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "hi"}], max_tokens=1
        )


def test_a_bad_parameter_is_a_bad_request_naming_it(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(live_mesh, make_key()).chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "hi"}], temperature=5
        )
    assert err.value.body["param"] == "temperature"  # type: ignore[index]


def test_every_response_carries_a_request_id(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    ok = httpx.get(
        f"{live_mesh.base_url}/models", headers={"authorization": f"Bearer {make_key()}"}
    )
    bad = httpx.get(f"{live_mesh.base_url}/nowhere")
    given = httpx.get(f"{live_mesh.base_url}/models", headers={"x-request-id": "abc123"})
    assert ok.headers["x-request-id"] and bad.headers["x-request-id"]
    assert given.headers["x-request-id"] == "abc123" and given.status_code == 401
    assert bad.status_code == 404 and set(bad.json()["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }
