"""APIClient against a small local OpenAI-compatible HTTP server that answers as told: retries
on 429/503 honouring Retry-After, no retry on other errors, timeouts, streaming, typed errors,
and the provider registry (config.yaml shape, environment fallbacks)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sage_client import api_client
from sage_client.api_client import (
    APIClient,
    APITimeoutError,
    AuthenticationError,
    InvalidRequestError,
    ProviderUnavailableError,
    RateLimitError,
    retry_after_s,
)
from sage_client.providers import resolve_provider

REPLY = {"choices": [{"message": {"role": "assistant", "content": "hello"}}]}


class Script:
    """What the server answers, request by request: (status, headers, body or None=REPLY)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], object]] = []
        self.requests: list[dict] = []
        self.delay_s = 0.0


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length))
            script.requests.append(
                {"path": self.path, "body": body, "auth": self.headers.get("authorization")}
            )
            if script.delay_s:
                threading.Event().wait(script.delay_s)
            status, headers, payload = script.answers.pop(0) if script.answers else (200, {}, None)
            if body.get("stream") and status == 200:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for word in ("he", "llo"):
                    chunk = {"choices": [{"delta": {"content": word}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                return
            data = json.dumps(REPLY if payload is None else payload).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between retries, recorded instead of slept (the backoff is what is tested)."""
    recorded: list[float] = []
    monkeypatch.setattr(api_client.time, "sleep", recorded.append)
    return recorded


def client_for(url: str, **kwargs: object) -> APIClient:
    config = {"middleware": {"providers": {"local": {"base_url": url, "api_key": "sk-local"}}}}
    return APIClient(config, **kwargs)  # type: ignore[arg-type]


MESSAGES = [{"role": "user", "content": "hi"}]


def test_a_429_is_retried_after_the_seconds_retry_after_asks(server, waits) -> None:
    url, script = server
    script.answers = [(429, {"Retry-After": "2"}, {"error": {"message": "slow down"}})]
    reply = client_for(url).chat_completion(provider="local", messages=MESSAGES, model="m")
    assert reply == REPLY and len(script.requests) == 2 and waits == [2.0]
    assert script.requests[0]["auth"] == "Bearer sk-local"
    assert script.requests[0]["body"]["model"] == "m"


def test_a_503_with_an_http_date_retry_after_is_honoured(server, waits) -> None:
    url, script = server
    later = formatdate(api_client.time.time() + 30, usegmt=True)
    script.answers = [(503, {"Retry-After": later}, {"error": "busy"})]
    assert client_for(url).chat_completion(provider="local", messages=MESSAGES) == REPLY
    assert len(waits) == 1 and 25 <= waits[0] <= 30


def test_a_provider_that_stays_unavailable_fails_typed_after_its_retries(server, waits) -> None:
    url, script = server
    script.answers = [(503, {}, {"error": {"message": "down"}})] * 5
    with pytest.raises(ProviderUnavailableError, match="HTTP 503: down") as failed:
        client_for(url, max_retries=2).chat_completion(provider="local", messages=MESSAGES)
    assert failed.value.status == 503 and len(script.requests) == 3
    assert len(waits) == 2 and waits[1] > waits[0] * 0.9  # exponential backoff without a header


def test_a_rate_limit_that_outlasts_the_retries_is_a_rate_limit_error(server, waits) -> None:
    url, script = server
    script.answers = [(429, {"Retry-After": "1"}, {"error": "limit"})] * 2
    with pytest.raises(RateLimitError):
        client_for(url, max_retries=1).chat_completion(provider="local", messages=MESSAGES)


@pytest.mark.parametrize(
    ("status", "error"), [(400, InvalidRequestError), (401, AuthenticationError)]
)
def test_other_errors_are_not_retried(server, waits, status: int, error: type) -> None:
    url, script = server
    script.answers = [(status, {}, {"error": {"message": "no"}})]
    with pytest.raises(error, match=f"HTTP {status}: no"):
        client_for(url).chat_completion(provider="local", messages=MESSAGES)
    assert len(script.requests) == 1 and waits == []


def test_a_provider_that_does_not_answer_in_time_times_out(server, waits) -> None:
    url, script = server
    script.delay_s = 1.0
    with pytest.raises(APITimeoutError, match="within 0.2s"):
        client_for(url, timeout_s=0.2, max_retries=1).chat_completion(
            provider="local", messages=MESSAGES
        )
    assert len(waits) == 1


def test_a_stream_yields_chunks_and_is_retried_before_its_first(server, waits) -> None:
    url, script = server
    script.answers = [(429, {"Retry-After": "0"}, {"error": "later"})]
    chunks = client_for(url).chat_completion(provider="local", messages=MESSAGES, stream=True)
    words = [c["choices"][0]["delta"]["content"] for c in chunks]
    assert words == ["he", "llo"] and waits == [0.0]


def test_embeddings_post_their_input(server) -> None:
    url, script = server
    client_for(url).embeddings(provider="local", input=["a", "b"], model="e")
    assert script.requests[0]["path"] == "/v1/embeddings"
    assert script.requests[0]["body"] == {"model": "e", "input": ["a", "b"]}


def test_bad_calls_are_refused_before_sending(server) -> None:
    url, script = server
    with pytest.raises(InvalidRequestError, match="messages"):
        client_for(url).chat_completion(provider="local", messages=[])
    with pytest.raises(InvalidRequestError, match="no base_url"):
        client_for(url).chat_completion(provider="nowhere", messages=MESSAGES)
    assert script.requests == []


def test_providers_fall_back_to_the_environment() -> None:
    env = {"OPENAI_API_KEY": "sk-env", "MYVLLM_BASE_URL": "http://h:1/v1/", "ALIBABA_API_KEY": "a"}
    openai = resolve_provider("openai", {}, env)
    assert (openai.base_url, openai.api_key) == ("https://api.openai.com/v1", "sk-env")
    assert resolve_provider("myvllm", {}, env).base_url == "http://h:1/v1"
    assert resolve_provider("dashscope", {}, env).api_key == "a"
    config = {"middleware": {"providers": {"openai": {"api_key": "sk-file"}}}}
    assert resolve_provider("openai", config, env).api_key == "sk-file"  # the file wins
    assert resolve_provider("sage", {}, {"SAGE_GATEWAY_URL": "http://gw/v1"}).base_url == (
        "http://gw/v1"
    )


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 10) == 10.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None
