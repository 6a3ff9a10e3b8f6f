"""The gateway as a raw ASGI app: routing, auth, rate limits, CORS, request ids and the
OpenAI endpoints. Shapes are in ``protocol.py``; the chat work is the pipeline's, run in the
request's own coroutine (``ChatPipeline.run``)."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, ValidationError

from sage_client.errors import SageError
from sage_client.llm import AsyncLLMClient
from sage_gateway import protocol
from sage_gateway.asgi_io import (
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    read_body,
    send_event,
    send_response,
    start_event_stream,
    wait_disconnect,
)
from sage_gateway.auth import Authenticator, Principal
from sage_gateway.chat_pipeline import ChatPipeline, Turn
from sage_gateway.config import GatewayConfig
from sage_gateway.errors import (
    GatewayError,
    forbidden,
    from_sage_error,
    from_validation_error,
    not_found,
)
from sage_gateway.memory_step import MemoryAccess
from sage_gateway.openapi import openapi_document
from sage_gateway.ratelimit import Admission, RateLimiter, reservation
from sage_gateway.responses import ChunkWriter, chat_completion, text_completion
from sage_gateway.session_views import MESH_VIEW, SAGE_VIEW, SessionView
from sage_gateway.sessions import Session, SessionIndex
from sage_runtime.host import VERSION

log = logging.getLogger("sage.gateway")
REQUESTS = Counter("sage_gateway_requests_total", "HTTP requests handled", ["route", "status"])
LATENCY = Histogram(
    "sage_gateway_request_seconds",
    "time to the response head",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_DONE = b"[DONE]"
_LIMITED_ROUTES = ("chat", "completions", "embeddings")
_CONTEXTS_TTL_S = 60.0
# SAGE's name for "the default served model" (seed 004's curl walkthrough sends it): the
# gateway's default_model when set, else the LLM instance's own default.
DEFAULT_MODEL_ALIAS = "sage-default"
# /v1/sessions/{id}[/verb] and SAGE's /sessions/{id}[/verb]: (method, verb) -> route
_SESSION_ROUTES = {
    ("GET", ""): "session",
    ("DELETE", ""): "session_delete",
    ("POST", "clear"): "session_clear",
    ("PATCH", "title"): "session_title",
}
_SESSION_PREFIXES = ("/v1/sessions/", "/sessions/")


@dataclass
class Request:
    scope: Scope
    receive: Receive
    send: Send
    request_id: str
    headers: dict[str, str]
    path: str
    method: str


@dataclass
class Dependencies:
    pipeline: ChatPipeline
    authenticator: Authenticator
    limiter: RateLimiter
    sessions: SessionIndex
    llm: AsyncLLMClient
    memory: MemoryAccess | None = None


class ClientGone(Exception):
    """The client disconnected before its answer was complete (nothing more is sent)."""


class _HangUp:
    """Cancels the request's task when its client disconnects, while the answer is being made
    (which cancels the LLM call: decoding stops upstream); ``armed`` is cleared once the
    answer is complete and only its last bytes remain to send."""

    def __init__(self) -> None:
        self.task = asyncio.current_task()
        self.armed = True
        self.happened = False

    def __call__(self) -> None:
        if self.armed and self.task is not None:
            self.happened = True
            self.task.cancel()


Handler = Callable[[Request, Principal, dict[str, str]], Awaitable[None]]


def parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(
            400, f"the request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise GatewayError(400, "the request body must be a JSON object", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


class GatewayApp:
    def __init__(
        self,
        config: GatewayConfig,
        deps: Dependencies | None = None,
        on_startup: Callable[[], Awaitable[Dependencies]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.deps = deps
        self.draining = False
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._cors = set(config.cors_origins)
        self._openapi = orjson.dumps(openapi_document())
        self._contexts: dict[str, int] = {}  # model -> context length, from ListModels
        self._contexts_at = -_CONTEXTS_TTL_S
        self._routes: dict[tuple[str, str], tuple[str, Handler]] = {
            ("POST", "/v1/chat/completions"): ("chat", self.chat_completions),
            ("POST", "/v1/completions"): ("completions", self.completions),
            ("POST", "/v1/embeddings"): ("embeddings", self.embeddings),
            ("GET", "/v1/models"): ("models", self.models),
            ("GET", "/v1/me"): ("me", self.me),
            ("GET", "/v1/sessions"): ("sessions", self.list_sessions),
            ("POST", "/v1/sessions"): ("session_create", self.create_session),
            ("POST", "/v1/sessions/cleanup"): ("sessions_cleanup", self.cleanup_sessions),
            # SAGE's gateway (seed 004): the same handlers, answering in SAGE's shapes
            ("GET", "/sessions"): ("sessions", self.list_sessions),
            ("POST", "/sessions"): ("session_create", self.create_session),
            ("POST", "/sessions/cleanup"): ("sessions_cleanup", self.cleanup_sessions),
        }
        self._session_handlers: dict[str, Handler] = {
            "session": self.get_session,
            "session_delete": self.delete_session,
            "session_clear": self.clear_session,
            "session_title": self.title_session,
        }

    # -- ASGI entry -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        request = Request(scope, receive, send, request_id, headers, scope["path"], scope["method"])
        base = {"x-request-id": request_id, **self._cors_headers(headers.get("origin"))}
        started = time.perf_counter()
        route = "other"
        status = 200
        try:
            route, status = await self._dispatch(request, base)
        except GatewayError as exc:
            status = exc.status
            await send_response(send, exc.status, exc.body(), {**base, **exc.headers})
        except ClientGone:
            status = 499
        except BodyTooLarge:
            status = 413
            err = GatewayError(413, "the request body is larger than 16 MiB", code="body_too_large")
            await send_response(send, 413, err.body(), base)
        except asyncio.CancelledError:
            status = 499
            raise
        except Exception as exc:  # noqa: BLE001 - the client always gets OpenAI's envelope
            log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            status = 500
            err = GatewayError(
                500,
                f"internal error ({type(exc).__name__}); request id {request_id}",
                "server_error",
            )
            await send_response(send, 500, err.body(), base)
        finally:
            REQUESTS.labels(route, str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        self.deps = await self._on_startup()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._on_shutdown is not None:
                    await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _cors_headers(self, origin: str | None) -> dict[str, str]:
        if not origin or not self._cors or not ({origin, "*"} & self._cors):
            return {}
        return {
            "access-control-allow-origin": origin,
            "vary": "Origin",
            "access-control-expose-headers": "x-request-id, retry-after, x-ratelimit-remaining-requests, "
            "x-ratelimit-remaining-tokens",
        }

    async def _dispatch(self, req: Request, base: dict[str, str]) -> tuple[str, int]:
        path, method = req.path.rstrip("/") or "/", req.method
        if method == "OPTIONS":
            if "access-control-allow-origin" not in base:
                raise GatewayError(
                    403, "this origin is not allowed (cors_origins)", "permission_error"
                )
            await send_response(
                req.send,
                204,
                b"",
                {
                    **base,
                    "access-control-allow-methods": "GET, POST, PATCH, DELETE",
                    "access-control-allow-headers": "authorization, content-type, "
                    "x-session-id, x-request-id",
                    "access-control-max-age": "600",
                },
            )
            return "preflight", 204
        if path == "/healthz":
            ok = not self.draining and self.deps is not None
            await send_response(
                req.send, 200 if ok else 503, b"ok" if ok else b"draining", base, "text/plain"
            )
            return "healthz", 200 if ok else 503
        if path == "/health" and method == "GET":
            return await self._health(req, base)
        if path == "/" and method == "GET":
            await send_response(req.send, 200, orjson.dumps(self._info()), base)
            return "info", 200
        if path == "/metrics":
            await send_response(req.send, 200, generate_latest(), base, CONTENT_TYPE_LATEST)
            return "metrics", 200
        if path == "/openapi.json":
            await send_response(req.send, 200, self._openapi, base)
            return "openapi", 200
        entry = self._routes.get((method, path))
        session_id = None
        if entry is None:
            session_id, entry = self._session_route(method, path)
        if entry is None:
            known = {p for _, p in self._routes} | {"/", "/health"}
            if path in known or session_id is not None:
                raise GatewayError(
                    405, f"{method} is not allowed on {path}", code="method_not_allowed"
                )
            raise not_found(f"no route {method} {path}; see /openapi.json")
        if self.deps is None or self.draining:
            raise GatewayError(
                503,
                "the gateway is starting or shutting down; retry",
                "server_error",
                code="unavailable",
                headers={"retry-after": "1"},
            )
        route, handler = entry
        who = await self.deps.authenticator.authenticate(req.headers.get("authorization"))
        if session_id is not None:
            req.scope["session_id"] = session_id
        req.scope["session_view"] = SAGE_VIEW if path.startswith("/sessions") else MESH_VIEW
        if route in _LIMITED_ROUTES:
            # the key's place among its concurrent requests; rpm/tpm are admitted by the handler,
            # once the body says how many tokens to reserve
            async with self.deps.limiter.slot(who):
                await handler(req, who, base)
        else:
            await handler(req, who, base)
        return route, 200

    def _session_route(self, method: str, path: str) -> tuple[str | None, Any]:
        """``(session id, (route, handler))`` of ``{prefix}{id}`` and ``{prefix}{id}/{verb}``;
        ``(id, None)`` for a session path with another method, ``(None, None)`` otherwise."""
        for prefix in _SESSION_PREFIXES:
            if path.startswith(prefix):
                session_id, _, verb = path[len(prefix) :].partition("/")
                if not session_id or "/" in verb or (verb and verb not in ("clear", "title")):
                    return None, None
                route = _SESSION_ROUTES.get((method, verb))
                if route is None:
                    return session_id, None
                return session_id, (route, self._session_handlers[route])
        return None, None

    def _info(self) -> dict[str, Any]:
        return {
            "service": "SAGE Mesh gateway",
            "version": VERSION,
            "endpoints": sorted({p for _, p in self._routes} | {"/health", "/openapi.json"}),
            "default_model": self.config.default_model or DEFAULT_MODEL_ALIAS,
        }

    async def _health(self, req: Request, base: dict[str, str]) -> tuple[str, int]:
        """SAGE's ``GET /health``: a liveness answer open to anyone, so it carries no data
        (SAGE's session counts are the callers' business: ``GET /sessions`` has them)."""
        ok = not self.draining and self.deps is not None
        body = {
            "status": "healthy" if ok else ("draining" if self.draining else "starting"),
            "service": "sage-gateway",
            "version": VERSION,
        }
        status = 200 if ok else 503
        await send_response(req.send, status, orjson.dumps(body), base)
        return "health", status

    async def _context_length(self, model: str) -> int:
        """The model's context length (ListModels, cached); the configured default when unknown."""
        assert self.deps is not None
        now = time.monotonic()
        if now - self._contexts_at > _CONTEXTS_TTL_S:
            self._contexts_at = now  # also after a failure: not one ListModels per request
            try:
                models = await self.deps.llm.models()
                self._contexts = {
                    m["name"]: m["context_length"]
                    for m in models
                    if m["kind"] == "generation" and m["context_length"] > 0
                }
            except SageError as exc:
                log.warning(
                    "ListModels failed; reserving the default context",
                    extra={"fields": {"error": str(exc)}},
                )
        found = self._contexts.get(model) or max(self._contexts.values(), default=0)
        return found or self.config.default_context_tokens

    async def _admit(
        self, who: Principal, body: protocol.SamplingFields, turn: Turn, headers: dict[str, str]
    ) -> tuple[Admission, dict[str, str]]:
        """rpm/tpm admission, reserving what the request can use at most (see ``reservation``)."""
        assert self.deps is not None
        context = await self._context_length(turn.model)
        texts = [m["content"] for m in turn.messages] if turn.messages else [turn.prompt or ""]
        reserve = reservation(
            body.max_completion_tokens or body.max_tokens,
            context,
            sum(len(t.encode()) for t in texts),
            len(texts),
        )
        admission = await self.deps.limiter.admit_request(who, reserve)
        return admission, {**headers, **admission.headers}

    # -- chat and completions ---------------------------------------------------------------
    async def chat_completions(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        body: protocol.ChatCompletionRequest = parse(
            protocol.ChatCompletionRequest, await read_body(req.receive)
        )
        session_id = body.session_id or req.headers.get("x-session-id") or None
        if session_id is not None and not _valid_session_id(session_id):
            raise GatewayError(
                400,
                "x-session-id must be 1-128 characters of A-Z a-z 0-9 . _ : -",
                param="session_id",
                code="invalid_value",
            )
        if body.memory and not self.config.memory_enabled:
            raise GatewayError(
                400,
                "memory is not enabled on this gateway (memory_enabled: false); "
                "send `memory: false`",
                param="memory",
                code="memory_disabled",
            )
        rag_collection = None
        if body.rag is not None:
            if body.rag.collection not in self.config.rag_collections:
                offered = ", ".join(self.config.rag_collections) or "none"
                raise GatewayError(
                    400,
                    f"collection {body.rag.collection!r} is not offered for RAG on this gateway "
                    f"(rag_collections: {offered})",
                    param="rag.collection",
                    code="rag_collection_not_offered",
                )
            rag_collection = body.rag.collection
        messages = [{"role": m.role, "content": m.text()} for m in body.messages]
        turn = self._turn(
            who,
            body,
            messages=messages,
            session_id=session_id,
            memory=bool(body.memory),
            rag_collection=rag_collection,
            rag_top_k=(body.rag.top_k if body.rag and body.rag.top_k else self.config.rag_top_k),
        )
        admission, headers = await self._admit(who, body, turn, headers)
        await self._serve(req, admission, headers, turn, body, chat=True)

    async def completions(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        body: protocol.CompletionRequest = parse(
            protocol.CompletionRequest, await read_body(req.receive)
        )
        prompt = body.prompt if isinstance(body.prompt, str) else None
        if prompt is None:
            if len(body.prompt) != 1:
                raise GatewayError(
                    400,
                    "prompt: exactly one prompt per request is served",
                    param="prompt",
                    code="invalid_value",
                )
            prompt = body.prompt[0]
        turn = self._turn(who, body, prompt=prompt)
        admission, headers = await self._admit(who, body, turn, headers)
        await self._serve(
            req, admission, headers, turn, body, chat=False, echo=prompt if body.echo else ""
        )

    def _turn(self, who: Principal, body: protocol.SamplingFields, **fields: Any) -> Turn:
        return Turn(
            owner=who.user,
            model=self._model(getattr(body, "model", "")),
            sampling=body.sampling(),
            stream=body.stream,
            **fields,
        )

    async def _serve(
        self,
        req: Request,
        admission: Admission,
        headers: dict[str, str],
        turn: Turn,
        body: protocol.SamplingFields,
        *,
        chat: bool,
        echo: str = "",
    ) -> None:
        assert self.deps is not None
        hang_up = _HangUp()
        try:
            watcher = asyncio.create_task(wait_disconnect(req.receive, hang_up))
        except BaseException:
            await self.deps.limiter.settle(admission, 0)
            raise
        try:
            async with aclosing(self.deps.pipeline.run(turn)) as pieces:
                if body.stream:
                    await self._stream(req, headers, turn, pieces, chat, body, hang_up)
                else:
                    async for _ in pieces:
                        pass
                    hang_up.armed = False
                    reply = chat_completion(turn) if chat else text_completion(turn, echo)
                    await send_response(req.send, 200, reply, headers)
        except asyncio.CancelledError:
            if not hang_up.happened:
                raise
            if hang_up.task is not None:
                hang_up.task.uncancel()
            raise ClientGone() from None
        finally:
            hang_up.armed = False
            watcher.cancel()
            # What it used, once known; a turn cut short after tokens flowed keeps its reservation
            # (a client cannot dodge the limit by hanging up); one that made nothing is refunded.
            used = turn.usage.get("total_tokens")
            if used is None:
                used = admission.reserved if turn.text else 0
            try:
                await asyncio.shield(self.deps.limiter.settle(admission, used))
            except (
                asyncio.CancelledError
            ):  # the client left as the request ended: settled all the same
                if not hang_up.happened:
                    raise
                raise ClientGone() from None

    async def _stream(
        self,
        req: Request,
        headers: dict[str, str],
        turn: Turn,
        pieces: AsyncGenerator[str, None],
        chat: bool,
        body: protocol.SamplingFields,
        hang_up: _HangUp,
    ) -> None:
        writer = ChunkWriter(turn, chat)
        started = False
        try:
            async for piece in pieces:
                if not started:  # the stream begins with the first token
                    await start_event_stream(req.send, headers)
                    started = True
                await send_event(req.send, writer.delta(piece))
        except GatewayError as exc:
            if not started:
                raise  # nothing sent yet: a proper HTTP status
            hang_up.armed = (
                False  # an error after the stream began: OpenAI's envelope as the last event
            )
            await send_event(req.send, exc.body(), more=False)
            return
        hang_up.armed = False
        if not started:
            await start_event_stream(req.send, headers)
        await send_event(req.send, writer.finish())
        if body.stream_options is not None and body.stream_options.include_usage:
            await send_event(req.send, writer.usage())
        await send_event(req.send, _DONE, more=False)

    def _model(self, requested: str) -> str:
        """The model to ask the LLM service for; ``""`` lets the instance pick its default."""
        if requested == DEFAULT_MODEL_ALIAS:
            requested = ""
        return requested or self.config.default_model

    # -- embeddings and models --------------------------------------------------------------
    async def embeddings(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        assert self.deps is not None
        body: protocol.EmbeddingRequest = parse(
            protocol.EmbeddingRequest, await read_body(req.receive)
        )
        headers = {**headers, **(await self.deps.limiter.admit_request(who, 0)).headers}
        texts = [body.input] if isinstance(body.input, str) else body.input
        try:
            reply = await self.deps.llm.embeddings(
                texts, model="" if body.model == DEFAULT_MODEL_ALIAS else body.model
            )
        except SageError as exc:
            raise from_sage_error(exc) from None
        vectors = np.frombuffer(reply.packed, dtype="<f4").reshape(len(texts), reply.dimension)
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.tobytes()).decode()
                if body.encoding_format == "base64"
                else v,
            }
            for i, v in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in texts)
        out = orjson.dumps(
            {
                "object": "list",
                "data": data,
                "model": reply.model or body.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        await self.deps.limiter.charge(who, tokens)
        await send_response(req.send, 200, out, headers)

    async def me(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        """Who the credential is: what Studio (and any client) shows and scopes its pages by."""
        body = {"object": "principal", "user": who.user, "admin": who.admin}
        await send_response(req.send, 200, orjson.dumps(body), headers)

    async def models(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        assert self.deps is not None
        try:
            models = await self.deps.llm.models()
        except SageError as exc:
            raise from_sage_error(exc) from None
        data = [
            {"id": m["name"], "object": "model", "created": 0, "owned_by": "sage-mesh"}
            for m in models
        ]
        if any(m["kind"] == "generation" for m in models):
            data.insert(  # SAGE's alias of the default model, which OpenAI clients may list
                0,
                {
                    "id": DEFAULT_MODEL_ALIAS,
                    "object": "model",
                    "created": 0,
                    "owned_by": "sage-mesh",
                },
            )
        await send_response(req.send, 200, orjson.dumps({"object": "list", "data": data}), headers)

    # -- sessions ---------------------------------------------------------------------------
    # /v1/sessions... and SAGE's /sessions... share these handlers; the view shapes the answer.
    @staticmethod
    def _view(req: Request) -> SessionView:
        return req.scope.get("session_view", MESH_VIEW)

    async def _reply(self, req: Request, headers: dict[str, str], body: dict[str, Any]) -> None:
        await send_response(req.send, 200, orjson.dumps(body), headers)

    async def list_sessions(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        assert self.deps is not None
        sessions = await self.deps.sessions.list(None if who.admin else who.user)
        await self._reply(req, headers, self._view(req).listing(sessions))

    async def create_session(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        assert self.deps is not None
        raw = await read_body(req.receive)
        body: protocol.SessionCreateRequest = parse(
            protocol.SessionCreateRequest, raw if raw.strip() else b"{}"
        )
        session = await self.deps.sessions.create(who.user, body.title)
        await self._reply(req, headers, self._view(req).created(session))

    async def _session(self, req: Request, who: Principal) -> Session:
        assert self.deps is not None
        session_id = req.scope["session_id"]
        session = await self.deps.sessions.find(who.user, session_id)
        if session is None and who.admin:
            session = await self.deps.sessions.find(None, session_id)
        if session is None:
            raise not_found(f"no session {session_id!r} for this key", param="session_id")
        return session

    async def get_session(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        session = await self._session(req, who)
        await self._reply(req, headers, self._view(req).detail(session))

    async def clear_session(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        assert self.deps is not None
        found = await self._session(req, who)
        session = await self.deps.sessions.clear(found)
        if session is None:  # expired or deleted between the read and the write
            raise not_found(f"no session {found.id!r} for this key", param="session_id")
        await self._reply(req, headers, self._view(req).cleared(session))

    async def title_session(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        assert self.deps is not None
        body: protocol.SessionTitleRequest = parse(
            protocol.SessionTitleRequest, await read_body(req.receive)
        )
        found = await self._session(req, who)
        session = await self.deps.sessions.rename(found, body.title)
        if session is None:
            raise not_found(f"no session {found.id!r} for this key", param="session_id")
        await self._reply(req, headers, self._view(req).titled(session))

    async def delete_session(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        assert self.deps is not None
        session = await self._session(req, who)
        await self._forget(session)  # memories first: a failure leaves the session there to retry
        await self.deps.sessions.delete(session)
        await self._reply(req, headers, self._view(req).deleted(session))

    async def cleanup_sessions(self, req: Request, who: Principal, headers: dict[str, str]) -> None:
        """Delete sessions idle longer than the TTL, or than ``?max_age_minutes=N`` (SAGE's)."""
        assert self.deps is not None
        require_admin(who)
        max_idle_s = _max_age_s(req.scope.get("query_string", b""))
        deleted = await self.deps.sessions.cleanup(None, self._forget, max_idle_s)
        await self._reply(req, headers, self._view(req).cleaned(deleted))

    async def _forget(self, session: Session) -> None:
        """Delete a session's memories in the Memory service (scoped ``<owner>/<session id>``)."""
        assert self.deps is not None
        if not session.memory or self.deps.memory is None or not self.config.memory_enabled:
            return
        try:
            await self.deps.memory.delete_session(session.owner, session.id)
        except SageError as exc:
            raise from_sage_error(exc) from None


def _max_age_s(query: bytes) -> float | None:
    """``max_age_minutes`` of a query string in seconds; None when absent."""
    values = parse_qs(query.decode("latin-1")).get("max_age_minutes")
    if not values:
        return None
    try:
        minutes = int(values[-1])
    except ValueError:
        minutes = -1
    if minutes < 0:
        raise GatewayError(
            400,
            f"max_age_minutes must be a whole number of minutes >= 0, not {values[-1]!r}",
            param="max_age_minutes",
            code="invalid_value",
        )
    return minutes * 60.0


def _valid_session_id(value: str) -> bool:
    return (
        0 < len(value) <= 128 and all(c.isalnum() or c in "._:-" for c in value) and value.isascii()
    )


def require_admin(who: Principal) -> None:
    if not who.admin:
        raise forbidden("this needs an admin key or a token with the `admin` scope")
