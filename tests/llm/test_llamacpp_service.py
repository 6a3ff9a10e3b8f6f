"""The LLM service as a real process on the llamacpp engine (the bundled GGUF), over gRPC."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from sage_client import InvalidArgument, Unauthenticated
from sage_client.llm import LLMClient
from tests.conftest import ServiceProcess, spawn_service

llama_cpp = pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    proc = spawn_service(
        tmp_path_factory.mktemp("llm-llamacpp"),
        "llm-llamacpp",
        "sage_llm",
        backend="auto",  # a CPU host and a GGUF model: auto picks llamacpp
        model_name="smollm2",
        embeddings="false",
        max_batch_size=4,
        max_queue=8,
    )
    yield proc
    proc.proc.stop(grace=5)


@pytest.fixture
def client(service: ServiceProcess) -> Iterator[LLMClient]:
    with LLMClient(address=service.address, timeout=60) as c:
        yield c


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def test_auto_serves_the_gguf_with_llamacpp_and_answers(client: LLMClient) -> None:
    (model,) = client.models()
    assert (model["name"], model["engine"], model["device"]) == ("smollm2", "llamacpp", "cpu")
    answer = client.chat(ask("Which city is the capital of France?"), max_tokens=20, temperature=0)
    assert "Paris" in answer["text"]
    assert answer["finish_reason"] == "stop"


def test_stream_matches_the_whole_answer_and_counts_the_prompt(client: LLMClient) -> None:
    prompt = "The three primary colors are"
    deltas = list(client.stream_deltas(prompt, max_tokens=10, temperature=0))
    assert deltas[-1]["finish_reason"] == "length"
    assert deltas[-1]["usage"]["completion_tokens"] == 10
    assert deltas[-1]["usage"]["prompt_tokens"] == client.count_tokens([prompt])[0]
    whole = client.generate(prompt, max_tokens=10, temperature=0)
    assert "".join(d["text"] for d in deltas) == whole["text"]


def test_concurrent_streams_are_answered_together(client: LLMClient) -> None:
    questions = ["Name a color.", "Say hi.", "Count to three.", "Name a fruit."]
    alone = [client.chat(ask(q), max_tokens=8, temperature=0)["text"] for q in questions]
    with ThreadPoolExecutor(4) as pool:
        together = list(
            pool.map(lambda q: client.chat(ask(q), max_tokens=8, temperature=0)["text"], questions)
        )
    assert together == alone


def test_stop_and_seed_through_the_service(client: LLMClient) -> None:
    full = client.generate("1, 2, 3, 4, 5,", max_tokens=16, temperature=0)["text"]
    assert "8" in full
    cut = client.generate("1, 2, 3, 4, 5,", max_tokens=16, temperature=0, stop=["8"])
    assert cut["finish_reason"] == "stop" and cut["text"] == full[: full.index("8")]
    seeded = [
        client.generate("Once upon a time", max_tokens=8, temperature=1.0, seed=s)["text"]
        for s in (7, 7, 8)
    ]
    assert seeded[0] == seeded[1] != seeded[2]


def test_tokenize_matches_llama_cpp(client: LLMClient) -> None:
    from sage_llm.model_files import default_chat_model_path

    reference = llama_cpp.Llama(str(default_chat_model_path()), vocab_only=True, verbose=False)
    text = "Streaming dataflows on a mesh — naïve 東京"
    ids = client.tokenize(text)
    assert ids == reference.tokenize(text.encode(), add_bos=False, special=True)
    assert client.count_tokens([text, "hi"]) == [len(ids), len(client.tokenize("hi"))]


def test_a_cancelled_stream_frees_its_slot(client: LLMClient) -> None:
    started = [threading.Event() for _ in range(4)]

    def hold(i: int) -> None:
        stream = client.stream(ask("Tell a very long story."), max_tokens=1500)
        next(stream)
        started[i].set()
        stream.close()  # cancels the call

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(e.is_set() for e in started)
    # All four slots (max_batch_size=4) were given back: four new requests run at once.
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda _: client.generate("Hi", max_tokens=2), range(4)))
    assert all(d["usage"]["completion_tokens"] >= 1 for d in done)
    assert time.perf_counter() - start < 30


def test_bad_input_is_refused_and_the_service_keeps_serving(client: LLMClient) -> None:
    with pytest.raises(InvalidArgument) as err:
        client.generate("x", temperature=3.0)
    assert err.value.field == "sampling.temperature"
    with pytest.raises(InvalidArgument) as err:
        client.generate("hello " * 3000)
    assert err.value.metadata["context_length"] == "2048"
    assert client.generate("Hi", max_tokens=1)["usage"]["completion_tokens"] == 1


def test_a_call_without_a_token_is_refused(service: ServiceProcess) -> None:
    with LLMClient(address=service.address, token="") as anonymous:
        with pytest.raises(Unauthenticated):
            anonymous.generate("Hi", max_tokens=1)
