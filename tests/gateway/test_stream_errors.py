"""An upstream failure after a stream began, through Envoy and the official OpenAI SDK: the 200
and the first chunks are already sent, so the error arrives as the stream's last event in
OpenAI's envelope (the SDK raises APIError); the same failure before any byte is a status."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.gateway.conftest import LiveMesh, bring_up, gateway_topology

TOKENS_PER_S = 20  # a 100-token answer would take 5 s
LLM_TIMEOUT_S = 1.0  # the gateway's deadline on each LLM call


@pytest.fixture(scope="module")
def timeout_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    yield from bring_up(
        tmp_path_factory.mktemp("stream-errors"),
        gateway_topology(
            llm_replicas=1,
            tokens_per_s=TOKENS_PER_S,
            gateway_env={"SAGE_LLM_TIMEOUT_S": str(LLM_TIMEOUT_S)},
        ),
    )


@pytest.fixture(scope="module")
def sdk(timeout_mesh: LiveMesh) -> openai.OpenAI:
    key = timeout_mesh.keys().create("", "stream-errors")[0]
    return openai.OpenAI(base_url=timeout_mesh.base_url, api_key=key, max_retries=0, timeout=30)


def test_an_error_in_mid_stream_is_the_streams_last_event(sdk: openai.OpenAI) -> None:
    received = ""
    with pytest.raises(openai.APIError) as err:
        for chunk in sdk.chat.completions.create(
            model="mock",
            messages=[{"role": "user", "content": "a long story"}],
            max_tokens=100,
            stream=True,
        ):
            received += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    # Part of the answer arrived before the deadline: the failure really was in mid-stream.
    assert 3 <= len(received.split()) < 100
    assert not isinstance(err.value, openai.APIStatusError)  # 200 was sent: no status to raise
    assert err.value.body["type"] == "server_error"  # type: ignore[index]
    assert err.value.body["code"] == "upstream_timeout"  # type: ignore[index]
    assert "SAGE_LLM_TIMEOUT_S" in str(err.value) and "max_tokens" in str(err.value), str(err.value)


def test_the_same_failure_before_the_answer_is_a_504(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as err:
        sdk.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "a long story"}], max_tokens=100
        )
    assert err.value.status_code == 504
    assert err.value.body["code"] == "upstream_timeout"  # type: ignore[index]
    assert f"limit of {LLM_TIMEOUT_S:g} s" in err.value.body["message"]  # type: ignore[index]


def test_a_short_answer_on_the_same_mesh_is_served(sdk: openai.OpenAI) -> None:
    reply = sdk.chat.completions.create(
        model="mock", messages=[{"role": "user", "content": "hi"}], max_tokens=3
    )
    assert reply.choices[0].finish_reason == "length"
    assert len(reply.choices[0].message.content.split()) == 3
