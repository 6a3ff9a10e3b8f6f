"""The LLM service as a real process (mock engine), through the SDK's LLMClient and the CLI."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sage_client import InvalidArgument, NotFound, ResourceExhausted
from sage_client.errors import DeadlineExceeded
from sage_client.llm import AsyncLLMClient, EmbeddingClient, LLMClient, SageLLMGenerator
from tests.conftest import ServiceProcess, spawn_service

TOKENS_PER_S = 200


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    proc = spawn_service(
        tmp_path_factory.mktemp("llm"),
        "llm-mock",
        "sage_llm",
        backend="mock",
        model_name="mock-a",
        extra_models="mock-b=unused",
        mock_tokens_per_s=TOKENS_PER_S,
        mock_context_length=64,
        max_batch_size=2,
        max_queue=0,  # two running requests fill the engine: the third is refused at once
        embeddings="true",
    )
    yield proc
    proc.proc.stop(grace=5)


@pytest.fixture
def client(service: ServiceProcess) -> Iterator[LLMClient]:
    with LLMClient(address=service.address) as c:
        yield c


def test_stream_ends_with_finish_reason_and_usage(client: LLMClient) -> None:
    deltas = list(client.stream_deltas("tell me about the mesh", max_tokens=6, temperature=0))
    assert [d["finish_reason"] for d in deltas[:-1]] == [None] * (len(deltas) - 1)
    assert deltas[-1]["finish_reason"] == "length"
    assert deltas[-1]["usage"]["completion_tokens"] == 6
    assert (
        deltas[-1]["usage"]["prompt_tokens"] == client.count_tokens(["tell me about the mesh"])[0]
    )
    text = "".join(d["text"] for d in deltas)
    assert text == client.generate("tell me about the mesh", max_tokens=6, temperature=0)["text"]


def test_stop_sequence_and_chat(client: LLMClient) -> None:
    full = client.generate("abc", max_tokens=20, temperature=0)["text"]
    word = full.split()[3]
    cut = client.generate("abc", max_tokens=20, temperature=0, stop=[word])
    assert cut["finish_reason"] == "stop"
    assert cut["text"] == full[: full.index(word)]
    answer = client.chat([{"role": "user", "content": "hi"}], max_tokens=4)
    assert len(answer["text"].split()) == 4


def test_bad_sampling_value_is_invalid_argument_naming_the_field(client: LLMClient) -> None:
    with pytest.raises(InvalidArgument) as err:
        client.generate("x", temperature=3.0)
    assert err.value.field == "sampling.temperature"
    with pytest.raises(InvalidArgument) as err:
        list(client.stream("x", top_p=0.0))
    assert err.value.field == "sampling.top_p"


def test_prompt_longer_than_context_reports_both_lengths(client: LLMClient) -> None:
    with pytest.raises(InvalidArgument) as err:
        client.generate("word " * 100)
    assert err.value.metadata["prompt_tokens"] == "100"
    assert err.value.metadata["context_length"] == "64"


def test_unknown_model_is_not_found_and_models_are_listed(client: LLMClient) -> None:
    with pytest.raises(NotFound, match="mock-a"):
        client.generate("x", model="nope")
    names = {m["name"]: m for m in client.models()}
    assert {"mock-a", "mock-b", "all-MiniLM-L6-v2"} <= set(names)
    assert names["all-MiniLM-L6-v2"]["dimension"] == 384
    assert client.generate("x", model="mock-b", max_tokens=1)["model"] == "mock-b"


def test_tokenize_and_count_tokens_agree_and_keep_the_order(client: LLMClient) -> None:
    texts = ["tell me about the mesh", "hi", "", "word " * 7]
    ids = [client.tokenize(t) for t in texts]
    assert client.count_tokens(texts) == [len(i) for i in ids]
    assert [len(i) for i in ids] == [5, 1, 0, 7]
    assert len(set(ids[0])) == 5  # five distinct words, five distinct ids
    assert client.tokenize("hi", model="mock-b") == ids[1]
    with pytest.raises(NotFound, match="mock-a"):
        client.tokenize("x", model="nope")
    with pytest.raises(InvalidArgument) as err:
        client.count_tokens(["x"] * 4097)
    assert err.value.field == "texts"
    assert "4096" in str(err.value)


def _hold_slot(client: LLMClient, started: threading.Event, stop: threading.Event) -> None:
    stream = client.stream("long", max_tokens=5000)
    next(stream)
    started.set()
    stop.wait(10)
    stream.close()  # cancels the call


def test_full_queue_is_resource_exhausted_and_cancel_frees_the_engine(client: LLMClient) -> None:
    stop = threading.Event()
    holders = []
    for _ in range(2):  # max_batch_size=2, max_queue=0: both slots busy, no queue place
        started = threading.Event()
        t = threading.Thread(target=_hold_slot, args=(client, started, stop))
        t.start()
        assert started.wait(10)
        holders.append(t)
    with pytest.raises(ResourceExhausted, match="queue is full"):
        client.generate("one too many", max_tokens=1)
    stop.set()
    for t in holders:
        t.join(10)
    # The cancelled 5000-token requests no longer occupy the engine: a new one runs at once.
    start = time.perf_counter()
    client.generate("after", max_tokens=2)
    assert time.perf_counter() - start < 2.0


def test_deadline_stops_the_request_in_the_engine(client: LLMClient) -> None:
    for _ in range(2):
        with pytest.raises(DeadlineExceeded) as err:
            client.generate("slow", max_tokens=5000, timeout=0.3)
        assert (
            "the llm service's Generate did not answer within its deadline of 0.3 s"
            in err.value.message
        )
    with pytest.raises(DeadlineExceeded, match="llm service's GenerateStream .* 0.3 s"):
        list(client.stream("slow", max_tokens=5000, timeout=0.3))
    start = time.perf_counter()
    client.generate("after", max_tokens=2, timeout=5)  # both slots were freed by the deadline
    assert time.perf_counter() - start < 2.0


async def test_the_async_client_answers_as_the_blocking_one(
    service: ServiceProcess, client: LLMClient
) -> None:
    prompt = "tell me about the mesh"
    async with AsyncLLMClient(address=service.address) as llm:
        reply = await llm.generate(prompt, max_tokens=6, temperature=0)
        assert reply == client.generate(prompt, max_tokens=6, temperature=0)
        deltas = [d async for d in llm.stream_deltas(prompt, max_tokens=6, temperature=0)]
        assert deltas == list(client.stream_deltas(prompt, max_tokens=6, temperature=0))
        assert (
            "".join([p async for p in llm.stream(prompt, max_tokens=6, temperature=0)])
            == reply["text"]
        )
        messages = [{"role": "user", "content": "abc"}]
        assert (await llm.chat(messages, max_tokens=3, temperature=0)) == client.chat(
            messages, max_tokens=3, temperature=0
        )
        assert await llm.count_tokens([prompt, "hi"]) == client.count_tokens([prompt, "hi"])
        assert await llm.tokenize("hi", model="mock-b") == client.tokenize("hi", model="mock-b")
        assert await llm.models() == client.models()
        embedded = await llm.embeddings(["a cat", "a dog"])
        assert embedded.dimension == 384 and embedded.model == "all-MiniLM-L6-v2"
        np.testing.assert_array_equal(embedded.vectors, await llm.embed(["a cat", "a dog"]))
        with pytest.raises(NotFound, match="mock-a"):
            await llm.generate("x", model="nope")


def test_embeddings_through_the_service(service: ServiceProcess) -> None:
    emb = EmbeddingClient(mesh=service.address)
    cat, kitten, market = emb.embed(
        [
            "The cat sits on the mat.",
            "A kitten is resting on a rug.",
            "Stock prices fell sharply today.",
        ]
    )
    assert cat.shape == (384,)
    np.testing.assert_allclose(np.linalg.norm([cat, kitten, market], axis=1), 1.0, atol=1e-5)
    assert float(cat @ kitten) > float(cat @ market)


def test_generator_calls_the_service_with_a_mesh(service: ServiceProcess) -> None:
    gen = SageLLMGenerator(
        backend_type="mock", mesh=service.address, model="mock-b", temperature=0, max_tokens=3
    )
    assert len(gen.execute("hello").split()) == 3


def test_cli_lists_models_and_streams(service: ServiceProcess) -> None:
    sage = [sys.executable, "-m", "sage_cli.main", "llm", "--address", service.address]
    models = subprocess.run(
        [*sage, "models"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "mock-a\tgeneration\tmock" in models.stdout
    out = subprocess.run(
        [*sage, "generate", "hi", "--stream", "--max-tokens", "4"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(out.stdout.split()) == 4
    bad = subprocess.run(
        [*sage, "generate", "hi", "--temperature", "9"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and "temperature" in bad.stderr


def test_instances_publish_models_and_clients_route_by_name(tmp_path: Path, etcd: object) -> None:
    from sage_client.discovery import EtcdResolver

    started = [
        spawn_service(
            tmp_path,
            f"llm-{name}",
            "sage_llm",
            backend="mock",
            model_name=name,
            embeddings="false",
            etcd_endpoints=etcd.address,
        )  # type: ignore[attr-defined]
        for name in ("alpha", "beta")
    ]
    resolver = EtcdResolver([etcd.address])  # type: ignore[attr-defined]
    try:
        with LLMClient(resolver=resolver) as c:
            for _ in range(4):
                assert c.generate("x", model="alpha", max_tokens=1)["model"] == "alpha"
                assert c.generate("x", model="beta", max_tokens=1)["model"] == "beta"
    finally:
        resolver.close()
        for s in started:
            s.proc.stop(grace=5)
