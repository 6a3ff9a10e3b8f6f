"""OpenAIGenerator: the same map-function shape as SageLLMGenerator, against any server that speaks
OpenAI's chat-completions API (vLLM, the mesh's gateway, OpenAI itself). Standard library only."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sage_client.dataflow.api.functions import MapFunction

log = logging.getLogger(__name__)


class OpenAIError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class OpenAIGenerator(MapFunction):
    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        config: Mapping[str, Any] | None = None,
        timeout_s: float = 120.0,
        **sampling: Any,
    ) -> None:
        super().__init__()
        if isinstance(base_url, Mapping):  # SAGE's OpenAIGenerator(config)
            config, base_url = {**base_url, **(config or {})}, None
        cfg = dict(config or {})
        env = os.environ
        if config is not None and env.get("OPENAI_BASE_URL") and not base_url:
            # a SAGE program's config names its endpoint (often a cloud one); OPENAI_BASE_URL
            # (and OPENAI_MODEL) in the environment send it to another server, such as the
            # mesh's gateway, without editing the program or its config
            configured = cfg.pop("base_url", None)
            if configured and configured.rstrip("/") != env["OPENAI_BASE_URL"].rstrip("/"):
                log.info("OPENAI_BASE_URL overrides the configured base_url %s", configured)
            if env.get("OPENAI_MODEL") and not model:
                cfg.pop("model", None)
                cfg.pop("model_name", None)
                model = env["OPENAI_MODEL"]
        self.base_url = (
            base_url
            or cfg.pop("base_url", None)
            or env.get("OPENAI_BASE_URL")
            or env.get("SAGE_CHAT_BASE_URL")
            or ""
        ).rstrip("/")
        self.model = (
            model
            or cfg.pop("model", None)
            or cfg.pop("model_name", None)
            or env.get("OPENAI_MODEL")
        )
        self.api_key = (
            api_key
            or cfg.pop("api_key", None)
            or env.get("OPENAI_API_KEY")
            or env.get("SAGE_CHAT_API_KEY", "")
        )
        for sage_only in ("api_key_env",):  # SAGE config keys that are not sampling
            cfg.pop(sage_only, None)
        if not self.base_url:
            raise ValueError(
                "base_url is required, e.g. http://localhost:8000/v1 (or set OPENAI_BASE_URL)"
            )
        if not self.model:
            raise ValueError("model is required: the model name the server serves")
        cfg.pop("method", None)
        self.sampling = {**cfg, **sampling}
        self.timeout_s = timeout_s

    def execute(self, data: Any) -> Any:
        if (
            isinstance(data, list | tuple)
            and len(data) == 2
            and isinstance(data[0], str | type(None))
            and not isinstance(data[1], Mapping)
        ):
            query, prompt = data
            return query, self.generate(prompt)["text"]
        return self.generate(data)["text"]

    def generate(self, prompt: str | Sequence[Mapping[str, str]]) -> dict[str, Any]:
        body = self._post(self._body(prompt, stream=False))
        reply = json.loads(body.read())
        choice = reply["choices"][0]
        return {
            "text": choice["message"]["content"] or "",
            "finish_reason": choice.get("finish_reason"),
            "usage": reply.get("usage"),
        }

    def stream(self, prompt: str | Sequence[Mapping[str, str]]) -> Iterator[str]:
        """Yield content pieces from the server-sent events stream."""
        with self._post(self._body(prompt, stream=True)) as body:
            for raw in body:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    return
                event = json.loads(payload)
                for choice in event.get("choices", []):
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        yield piece

    def _body(self, prompt: str | Sequence[Mapping[str, str]], stream: bool) -> dict[str, Any]:
        messages = (
            [{"role": "user", "content": prompt}]
            if isinstance(prompt, str)
            else [dict(m) for m in prompt]
        )
        return {"model": self.model, "messages": messages, "stream": stream, **self.sampling}

    def _post(self, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
            method="POST",
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise OpenAIError(err.code, detail) from None
