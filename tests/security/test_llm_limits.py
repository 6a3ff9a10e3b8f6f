"""The LLM service under a huge prompt: refused by size before tokenizing, and tokenizing never
blocks the event loop (a concurrent health check keeps answering within 200 ms)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sage_client import InvalidArgument
from sage_client.channels import authorized_channel
from sage_client.llm import LLMClient
from tests.conftest import ServiceProcess, spawn_service

BIG = 8 * 1024 * 1024
HEALTH_BUDGET_S = 0.2


def _prompt(size: int) -> str:
    words = "alpha beta gamma delta mesh sage token "
    return (words * (size // len(words) + 1))[:size]


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    proc = spawn_service(
        tmp_path_factory.mktemp("llm-limits"),
        "llm-limits",
        "sage_llm",
        backend="mock",
        model_name="mock",
        embeddings="false",
        mock_context_length=4096,
    )
    yield proc
    proc.proc.stop(grace=5)


@pytest.fixture(scope="module")
def llm_no_byte_limit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """max_prompt_bytes above the prompt: the 8 MB prompt is tokenized (in a worker thread)."""
    proc = spawn_service(
        tmp_path_factory.mktemp("llm-nolimit"),
        "llm-nolimit",
        "sage_llm",
        backend="mock",
        model_name="mock",
        embeddings="false",
        mock_context_length=4096,
        max_prompt_bytes=16 * 1024 * 1024,
    )
    yield proc
    proc.proc.stop(grace=5)


def _worst_health_latency(
    address: str, call: Callable[[], object]
) -> tuple[float, BaseException | None]:
    """Run ``call`` in a thread while health-checking ``address``; the slowest check and call's error."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    worst = 0.0
    with authorized_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)  # channel connected
        worker = threading.Thread(target=run)
        worker.start()
        checks = 0
        while worker.is_alive() or checks < 5:
            start = time.perf_counter()
            reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            worst = max(worst, time.perf_counter() - start)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            checks += 1
            time.sleep(0.01)
        worker.join()
    return worst, outcome[0]


@pytest.mark.parametrize("kind", ["generate", "chat", "tokenize"])
def test_eight_megabyte_prompt_is_refused_by_size_and_health_keeps_answering(
    llm: ServiceProcess, kind: str
) -> None:
    prompt = _prompt(BIG)
    with LLMClient(address=llm.address) as client:
        calls: dict[str, tuple[Callable[[], object], str]] = {
            "generate": (lambda: client.generate(prompt, max_tokens=4), "prompt"),
            "chat": (
                lambda: client.chat(
                    [{"role": "user", "content": "hi"}, {"role": "user", "content": prompt}],
                    max_tokens=4,
                ),
                "messages[1].content",
            ),
            "tokenize": (lambda: client.tokenize(prompt), "text"),
        }
        call, field = calls[kind]
        worst, error = _worst_health_latency(llm.address, call)
        assert isinstance(error, InvalidArgument), error
        assert error.field == field
        assert "max_prompt_bytes" in str(error)
        assert worst < HEALTH_BUDGET_S, f"a health check waited {worst:.3f}s behind the big prompt"
        # The service is unharmed: a normal request still works.
        assert client.generate("tell me about the mesh", max_tokens=3, temperature=0)["text"]


def test_prompt_under_the_byte_limit_is_tokenized_off_the_event_loop(
    llm_no_byte_limit: ServiceProcess,
) -> None:
    prompt = _prompt(BIG)
    with LLMClient(address=llm_no_byte_limit.address) as client:
        worst, error = _worst_health_latency(
            llm_no_byte_limit.address, lambda: client.generate(prompt, max_tokens=4)
        )
        assert isinstance(error, InvalidArgument), error
        assert error.field == "prompt"
        assert error.metadata["context_length"] == "4096"  # it was tokenized, then found too long
        assert worst < HEALTH_BUDGET_S, (
            f"a health check waited {worst:.3f}s while the prompt was tokenized"
        )
