"""APIClient: OpenAI-compatible chat, streaming and embeddings over named providers (seed 000).

    from sage_client.api_client import APIClient

    client = APIClient()  # providers from config.yaml / the environment (sage_client.providers)
    reply = client.chat_completion(provider="sage", messages=[{"role": "user", "content": "hi"}])
    reply["choices"][0]["message"]["content"]
    for chunk in client.chat_completion(provider="openai", messages=..., stream=True): ...
    client.embeddings(provider="vllm", input=["a text"])["data"][0]["embedding"]

Retries: 429 and 500/502/503/504 replies, connection failures and timeouts are retried up to
``max_retries`` times, waiting what the reply's ``Retry-After`` says (seconds or an HTTP date,
capped at ``max_backoff_s``) or else an exponential backoff with jitter. A stream is retried only
before its first chunk. Errors are typed (``APIError`` and subclasses, which are SageErrors).
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import grpc
import httpx

from sage_client.errors import SageError
from sage_client.providers import Provider, middleware_config, resolve_provider

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class APIError(SageError):
    """A provider refused or failed a call: ``status`` (HTTP, 0 without a reply), ``provider``,
    ``body`` (the parsed error body when it is JSON)."""

    def __init__(
        self, message: str, *, status: int = 0, provider: str = "", body: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.provider = provider
        self.body = body


class AuthenticationError(APIError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ForbiddenError(APIError):
    code = grpc.StatusCode.PERMISSION_DENIED


class InvalidRequestError(APIError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(APIError):
    code = grpc.StatusCode.NOT_FOUND


class RateLimitError(APIError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class ProviderUnavailableError(APIError):
    code = grpc.StatusCode.UNAVAILABLE


class APITimeoutError(APIError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class APIConnectionError(APIError):
    code = grpc.StatusCode.UNAVAILABLE


def _error_class(status: int) -> type[APIError]:
    if status == 401:
        return AuthenticationError
    if status == 403:
        return ForbiddenError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ProviderUnavailableError
    return InvalidRequestError


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _api_error(reply: httpx.Response, provider: str) -> APIError:
    try:
        body: Any = reply.json()
    except ValueError:
        body = reply.text[:500]
    message = body
    if isinstance(body, dict):
        err = body.get("error")
        message = err.get("message", err) if isinstance(err, dict) else err or body
    return _error_class(reply.status_code)(
        f"{provider}: HTTP {reply.status_code}: {message}",
        status=reply.status_code,
        provider=provider,
        body=body,
    )


class APIClient:
    """Calls OpenAI-compatible providers by name.

    ``config``: the config.yaml mapping (default: the file ``sage_client.providers`` finds);
    ``timeout_s`` per request (a provider's ``timeout_s`` wins); ``max_retries`` retries of
    retryable failures; ``backoff_s`` / ``max_backoff_s`` bound the waits between them."""

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        config_path: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.config = dict(config) if config is not None else middleware_config(config_path)
        self.timeout_s = timeout_s
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._http = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> APIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def provider(self, name: str) -> Provider:
        try:
            return resolve_provider(name, self.config)
        except ValueError as exc:
            raise InvalidRequestError(str(exc), provider=str(name)) from None

    # -- the calls -----------------------------------------------------------------------
    def chat_completion(
        self,
        provider: str,
        messages: Sequence[Mapping[str, Any]],
        model: str | None = None,
        stream: bool = False,
        **params: Any,
    ) -> Any:
        """``POST /chat/completions``: the reply as a dict, or with ``stream=True`` an iterator
        of chunk dicts (the server-sent events' ``data``)."""
        if not messages or not all(isinstance(m, Mapping) and "role" in m for m in messages):
            raise InvalidRequestError(
                "messages must be a non-empty list of {'role': ..., 'content': ...}",
                provider=provider,
            )
        p = self.provider(provider)
        body = {"model": model or p.model or "default", "messages": list(messages), **params}
        if stream:
            body["stream"] = True
            return self._stream(p, "/chat/completions", body)
        return self._post(p, "/chat/completions", body)

    def embeddings(
        self, provider: str, input: str | Sequence[str], model: str | None = None, **params: Any
    ) -> Any:
        """``POST /embeddings``: the reply as a dict (``data[i]["embedding"]``)."""
        p = self.provider(provider)
        body = {"model": model or p.model or "default", "input": input, **params}
        return self._post(p, "/embeddings", body)

    # -- plumbing ------------------------------------------------------------------------
    def _headers(self, p: Provider) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if p.api_key:
            headers["authorization"] = f"Bearer {p.api_key}"
        return headers

    def _wait(self, attempt: int, reply: httpx.Response | None) -> float:
        asked = retry_after_s(reply.headers.get("retry-after")) if reply is not None else None
        if asked is not None:
            return min(asked, self.max_backoff_s)
        base = min(self.max_backoff_s, self.backoff_s * (2**attempt))
        return base * (0.5 + random.random() / 2)

    def _send(
        self, p: Provider, path: str, body: Mapping[str, Any], stream: bool
    ) -> httpx.Response:
        """The first reply that is not retryable (or the last one), open when ``stream``."""
        url = p.base_url + path
        timeout = p.timeout_s or self.timeout_s
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                request = self._http.build_request(
                    "POST", url, json=body, headers=self._headers(p), timeout=timeout
                )
                reply = self._http.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                if last:
                    raise APITimeoutError(
                        f"{p.name}: no reply from {url} within {timeout}s "
                        f"({self.max_retries + 1} attempts): {exc}",
                        provider=p.name,
                    ) from None
                time.sleep(self._wait(attempt, None))
                continue
            except httpx.TransportError as exc:
                if last:
                    raise APIConnectionError(
                        f"{p.name}: cannot reach {url} ({self.max_retries + 1} attempts): {exc}",
                        provider=p.name,
                    ) from None
                time.sleep(self._wait(attempt, None))
                continue
            if reply.status_code in RETRY_STATUSES and not last:
                wait = self._wait(attempt, reply)
                reply.close()
                time.sleep(wait)
                continue
            return reply
        raise AssertionError("unreachable")

    def _post(self, p: Provider, path: str, body: Mapping[str, Any]) -> Any:
        reply = self._send(p, path, body, stream=False)
        if reply.status_code >= 400:
            raise _api_error(reply, p.name)
        try:
            return reply.json()
        except ValueError:
            raise APIError(
                f"{p.name}: the reply is not JSON: {reply.text[:200]!r}",
                status=reply.status_code,
                provider=p.name,
            ) from None

    def _stream(self, p: Provider, path: str, body: Mapping[str, Any]) -> Iterator[Any]:
        reply = self._send(p, path, body, stream=True)
        if reply.status_code >= 400:
            reply.read()
            reply.close()
            raise _api_error(reply, p.name)
        return self._events(p, reply)

    @staticmethod
    def _events(p: Provider, reply: httpx.Response) -> Iterator[Any]:
        try:
            for line in reply.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                chunk = json.loads(data)
                if isinstance(chunk, dict) and "error" in chunk:
                    err = chunk["error"]
                    message = err.get("message", err) if isinstance(err, dict) else err
                    raise APIError(
                        f"{p.name}: stream failed: {message}", provider=p.name, body=chunk
                    )
                yield chunk
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"{p.name}: the stream stalled: {exc}", provider=p.name) from None
        finally:
            reply.close()
