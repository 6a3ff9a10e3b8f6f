"""The SDK side: SageLLMGenerator and EmbeddingClient load the in-process engine through the
``sage_mesh.embedded`` entry point (never by importing sage_llm)."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import numpy as np
import pytest

from sage_client.llm import EmbeddingClient, OpenAIGenerator, SageLLMGenerator
from sage_client.llm.openai_generator import OpenAIError


def test_generator_runs_the_mock_engine_in_process() -> None:
    gen = SageLLMGenerator(backend_type="mock", temperature=0, max_tokens=6)
    text = gen.execute("what is a mesh?")
    assert isinstance(text, str) and len(text.split()) == 6
    assert gen.execute("what is a mesh?") == text


def test_generator_accepts_a_config_dict_like_sage_operators() -> None:
    gen = SageLLMGenerator({"backend_type": "mock", "temperature": 0, "max_tokens": 3})
    query, answer = gen.execute(["the question", "the prompt"])
    assert query == "the question"
    assert len(answer.split()) == 3


def test_generator_chat_messages_and_stream() -> None:
    gen = SageLLMGenerator(backend_type="mock", temperature=0, max_tokens=5)
    messages = [{"role": "user", "content": "hi"}]
    pieces = list(gen.stream(messages))
    assert "".join(pieces) == gen.execute(messages)
    result = gen.generate(messages)
    assert result["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 5


def test_generator_rejects_unknown_options_and_bad_values() -> None:
    with pytest.raises(ValueError, match="temprature"):
        SageLLMGenerator(backend_type="mock", temprature=0.1)
    with pytest.raises(ValueError, match="backend_type"):
        SageLLMGenerator(backend_type="gpu")
    gen = SageLLMGenerator(backend_type="mock", temperature=5.0)
    with pytest.raises(ValueError, match="temperature"):
        gen.execute("x")


def test_embedding_client_returns_unit_vectors() -> None:
    vectors = EmbeddingClient().embed(["one text", "two texts"])
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


class _ChatCompletions(BaseHTTPRequestHandler):
    """A minimal OpenAI-protocol endpoint: echoes the last user message back."""

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers["Authorization"] != "Bearer k":
            self._reply(401, {"error": {"message": "bad key"}})
            return
        echo = "echo: " + body["messages"][-1]["content"]
        if body["stream"]:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in echo.split(" "):
                chunk = {"choices": [{"delta": {"content": word + " "}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        self._reply(
            200,
            {
                "choices": [{"message": {"content": echo}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            },
        )

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def openai_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _ChatCompletions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_openai_generator_completes_and_streams(openai_server: str) -> None:
    gen = OpenAIGenerator(base_url=openai_server, model="m", api_key="k", temperature=0)
    assert gen.execute("hello there") == "echo: hello there"
    assert gen.execute(["q", "hi"]) == ("q", "echo: hi")
    assert "".join(gen.stream("a b")).strip() == "echo: a b"


def test_openai_generator_reports_the_servers_error(openai_server: str) -> None:
    gen = OpenAIGenerator(base_url=openai_server, model="m", api_key="wrong")
    with pytest.raises(OpenAIError, match="401: bad key"):
        gen.execute("x")


def test_openai_base_url_in_the_environment_redirects_a_sage_config(
    openai_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a SAGE program's config that names a cloud endpoint runs against another server (the
    # mesh's gateway) through OPENAI_BASE_URL / OPENAI_API_KEY / OPENAI_MODEL, unedited
    sage_config = {
        "api_key": "",
        "method": "openai",
        "model_name": "qwen-turbo-2025-02-11",
        "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "seed": 42,
    }
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("OPENAI_MODEL", "sage-default")
    gen = OpenAIGenerator(dict(sage_config))
    assert (gen.base_url, gen.model) == (openai_server, "sage-default")
    assert gen.execute("hi") == "echo: hi"
    # without the variables the config is used as written; an explicit argument always wins
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_MODEL")
    assert OpenAIGenerator(dict(sage_config)).base_url == sage_config["base_url"]
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere:1/v1")
    assert OpenAIGenerator(base_url=openai_server, model="m").base_url == openai_server


def test_generator_as_a_datastream_map_function() -> None:
    from sage_client import LocalEnvironment, SinkFunction

    out: list[tuple[str, str]] = []

    class Collect(SinkFunction):
        def execute(self, data: tuple[str, str]) -> None:
            out.append(data)

    env = LocalEnvironment("llm-map")
    questions = [f"question {i}" for i in range(6)]
    env.from_batch([[q, q] for q in questions]).map(
        SageLLMGenerator, {"backend_type": "mock", "temperature": 0, "max_tokens": 4}, parallelism=2
    ).sink(Collect)
    env.submit(autostop=True)
    assert sorted(q for q, _ in out) == questions
    direct = SageLLMGenerator(backend_type="mock", temperature=0, max_tokens=4)
    assert dict(out) == {q: direct.execute(q) for q in questions}


def test_raw_completion_differs_from_the_chat_template() -> None:
    chat = SageLLMGenerator(backend_type="mock", temperature=0, max_tokens=6)
    raw = SageLLMGenerator(backend_type="mock", temperature=0, max_tokens=6, chat_template=False)
    assert chat.execute("hello") == chat.execute([{"role": "user", "content": "hello"}])
    assert raw.execute("hello") != chat.execute("hello")


@pytest.mark.slow
def test_default_generator_answers_with_smollm2_in_process() -> None:
    gen = SageLLMGenerator(backend_type="auto", temperature=0, max_tokens=20)
    assert "Paris" in gen.execute("Which city is the capital of France?")
