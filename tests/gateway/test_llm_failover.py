"""With a slow mock LLM: a client that disconnects cancels its generation; one of two LLM
instances killed fails the requests it was serving in OpenAI's shape (503, or an error event in
a stream), and the next request is served by the other instance."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.gateway.conftest import LiveMesh, bring_up, gateway_topology


@pytest.fixture(scope="module")
def slow_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    # 50 tokens/s: a 200-token answer is in flight for 4 s
    # two generations at once per instance, none waiting: a third is refused (503)
    yield from bring_up(
        tmp_path_factory.mktemp("failover"),
        gateway_topology(
            tokens_per_s=50, llm_env={"SAGE_MAX_BATCH_SIZE": "2", "SAGE_MAX_QUEUE": "0"}
        ),
    )


def _four_at_once(sdk: openai.OpenAI) -> list[object]:
    """Four short chats at once: two per instance (round robin), one slot each left only if
    nothing else is generating there."""
    results: list[object] = []

    def one() -> None:
        try:
            results.append(
                sdk.chat.completions.create(
                    model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=25
                )
            )
        except openai.APIError as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_a_client_that_disconnects_cancels_its_generation(slow_mesh: LiveMesh) -> None:
    key = slow_mesh.keys().create("", "leaver")[0]
    sdk = openai.OpenAI(base_url=slow_mesh.base_url, api_key=key, max_retries=0, timeout=30)
    body = {
        "model": "mock",
        "messages": [{"role": "user", "content": "go on"}],
        "max_tokens": 500,
        "stream": True,
    }
    with httpx.stream(
        "POST",
        f"{slow_mesh.base_url}/chat/completions",
        json=body,
        timeout=30,
        headers={"authorization": f"Bearer {key}"},
    ) as reply:
        lines, started = reply.iter_lines(), time.monotonic()
        while (
            time.monotonic() - started < 0.5
        ):  # the stream is flowing: a 10 s generation holds a slot
            next(lines)
        busy = _four_at_once(sdk)
    assert any(isinstance(r, openai.InternalServerError) for r in busy), (
        busy
    )  # the slot really is held
    deadline = time.monotonic() + 5  # far less than the 10 s the generation would take
    while any(isinstance(r, Exception) for r in _four_at_once(sdk)):
        assert time.monotonic() < deadline, "the generation outlived its client"
        time.sleep(0.1)


@pytest.mark.slow
def test_killing_an_llm_instance_fails_its_requests_and_the_next_is_served(
    slow_mesh: LiveMesh,
) -> None:
    key = slow_mesh.keys().create("", "failover")[0]
    sdk = openai.OpenAI(base_url=slow_mesh.base_url, api_key=key, max_retries=0, timeout=30)
    messages = [{"role": "user", "content": "a long story"}]
    outcomes: dict[str, object] = {}
    first_token = {n: threading.Event() for n in ("stream-0", "stream-1")}

    def whole(name: str) -> None:
        try:
            outcomes[name] = sdk.chat.completions.create(
                model="mock", messages=messages, max_tokens=200
            )
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcomes[name] = exc

    def streamed(name: str) -> None:
        try:
            text = ""
            for chunk in sdk.chat.completions.create(
                model="mock", messages=messages, max_tokens=200, stream=True
            ):
                first_token[name].set()
                text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
            outcomes[name] = text
        except Exception as exc:  # noqa: BLE001
            outcomes[name] = exc
        finally:
            first_token[name].set()

    threads = [threading.Thread(target=whole, args=(f"whole-{i}",)) for i in range(2)]
    threads += [threading.Thread(target=streamed, args=(f"stream-{i}",)) for i in range(2)]
    for t in threads:  # in turn, so round robin gives each instance some of each kind
        t.start()
        time.sleep(0.15)
    assert all(e.wait(10) for e in first_token.values())
    os.kill(slow_mesh.pid("llm-0"), signal.SIGKILL)
    for t in threads:
        t.join(30)

    failed = {n: o for n, o in outcomes.items() if isinstance(o, Exception)}
    assert failed, f"no request was on the killed instance: {outcomes}"
    assert len(failed) < 4, f"every request failed: {failed}"
    for name, exc in failed.items():
        if name.startswith("whole"):
            assert isinstance(exc, openai.InternalServerError) and exc.status_code == 503, repr(exc)
            assert exc.body["type"] == "server_error"  # type: ignore[index]
        else:  # the stream had begun (200 sent): the error arrives as its last event
            assert isinstance(exc, openai.APIError), repr(exc)
            assert "LLM instance" in str(exc), repr(exc)

    for _ in range(
        3
    ):  # the dead instance stays in etcd until its lease ends; none of these may fail
        reply = sdk.chat.completions.create(model="mock", messages=messages, max_tokens=3)
        assert reply.choices[0].finish_reason == "length"
