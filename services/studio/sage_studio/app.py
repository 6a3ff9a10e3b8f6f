"""Studio's ASGI app: ``/studio/`` (the bundle, open: it holds no data) and ``/studio/api/``
(JSON, every route authenticated by the caller's API key or JWT, checked by the gateway).

- ``GET /studio/api/me`` -> ``{"user", "admin"}`` (the sign-in check);
- ``GET /studio/api/mesh`` -> every instance in etcd with its health (admin);
- ``GET /studio/api/jobs``, ``GET /studio/api/jobs/{id}`` -> the job manager's jobs (admin);
  ``POST /studio/api/jobs/{id}/cancel|pause|resume`` -> its state after (admin);
- ``GET /studio/api/collections``, ``POST /studio/api/collections/{name}/search``
  ``{"text", "top_k"?}`` -> the VDB's collections and a text search (admin);
- ``/studio/api/chat/*`` -> seed 004's chat contract (``chat_api.py``), any signed-in user.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson

from sage_gateway.asgi_io import BodyTooLarge, Receive, Scope, Send, read_body, send_response
from sage_studio.chat_api import ChatAPI
from sage_studio.errors import StudioError, require_admin
from sage_studio.mesh_views import MeshViews
from sage_studio.principal import GatewayAuth, Principal
from sage_studio.static import StaticFiles

log = logging.getLogger("sage.studio")
API = "/studio/api/"
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


class Services:
    """What the routes call; built at startup (``server.py``) inside the serving loop."""

    def __init__(self, auth: GatewayAuth, chat: ChatAPI, views: MeshViews) -> None:
        self.auth = auth
        self.chat = chat
        self.views = views


class StudioApp:
    def __init__(
        self,
        static: StaticFiles,
        on_startup: Callable[[], Awaitable[Services]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.static = static
        self.services: Services | None = None
        self.draining = False
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        base = {"x-request-id": headers.get("x-request-id") or uuid.uuid4().hex}
        try:
            status, body, kind, extra = await self._dispatch(scope, receive, headers)
        except StudioError as exc:
            status, body, kind, extra = exc.status, exc.body(), "application/json", {}
        except BodyTooLarge:
            err = StudioError(413, "the request body is larger than 16 MiB")
            status, body, kind, extra = 413, err.body(), "application/json", {}
        except httpx.HTTPError as exc:
            err = StudioError(
                503, f"the gateway is unreachable ({exc}); is the mesh up?", "service_unavailable"
            )
            status, body, kind, extra = 503, err.body(), "application/json", {}
        except Exception as exc:  # noqa: BLE001 - the page always gets the JSON envelope
            log.exception("unhandled error")
            err = StudioError(500, f"internal error ({type(exc).__name__})", "server_error")
            status, body, kind, extra = 500, err.body(), "application/json", {}
        await send_response(send, status, body, {**base, **extra}, kind)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        self.services = await self._on_startup()
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

    async def _dispatch(
        self, scope: Scope, receive: Receive, headers: dict[str, str]
    ) -> tuple[int, bytes, str, dict[str, str]]:
        path, method = scope["path"], scope["method"]
        if path == "/healthz":
            ok = not self.draining and self.services is not None
            return (200, b"ok", "text/plain", {}) if ok else (503, b"draining", "text/plain", {})
        if path.startswith(API):
            status, body = await self._api(method, path[len(API) :].rstrip("/"), receive, headers)
            return status, body, "application/json", {"cache-control": "no-store"}
        if path in ("/", "/studio"):
            return 308, b"", "text/plain", {"location": "/studio/"}
        if path.startswith("/studio/"):
            if method not in ("GET", "HEAD"):
                raise StudioError(405, f"{method} is not allowed on {path}")
            return self.static.lookup(path)
        raise StudioError(404, f"no route {method} {path}; Studio is at /studio/", "not_found")

    async def _api(
        self, method: str, route: str, receive: Receive, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.services is None or self.draining:
            raise StudioError(503, "Studio is starting or shutting down; retry", "unavailable")
        svc = self.services
        authorization = headers.get("authorization", "")
        who = await svc.auth.authenticate(authorization)
        parts = route.split("/")
        body = await read_body(receive) if method in ("POST", "PATCH", "PUT") else b""
        handler = self._route(method, parts)
        if handler is None:
            raise StudioError(404, f"no API route {method} /studio/api/{route}", "not_found")
        return await handler(svc, who, authorization, parts, body)

    def _route(self, method: str, parts: list[str]) -> Any:
        match (method, parts):
            case ("GET", ["me"]):
                return _me
            case ("GET", ["mesh"]):
                return _mesh
            case ("GET", ["jobs"]):
                return _jobs
            case ("GET", ["jobs", _]):
                return _job
            case ("GET", ["jobs", _, "graph"]):
                return _job_graph
            case ("GET", ["jobs", _, "logs"]):
                return _job_logs
            case ("GET", ["jobs", _, "result"]):
                return _job_result
            case ("POST", ["jobs", _, "cancel" | "pause" | "resume"]):
                return _job_action
            case ("GET", ["pipelines", "ops"]):
                return _pipeline_ops
            case ("POST", ["pipelines", "run"]):
                return _pipeline_run
            case ("GET", ["collections"]):
                return _collections
            case ("POST", ["kv", _, "scan"]):
                return _kv_scan
            case ("GET", ["tsdb", "series"]):
                return _tsdb_series
            case ("POST", ["tsdb", "chart"]):
                return _tsdb_chart
            case ("POST", ["collections", _, "search"]):
                return _search
            case ("POST", ["chat", "message"]):
                return _chat_message
            case ("GET", ["chat", "sessions"]):
                return _chat_sessions
            case ("POST", ["chat", "sessions"]):
                return _chat_create
            case ("DELETE", ["chat", "sessions", _]):
                return _chat_delete
        return None


def _ok(data: Any) -> tuple[int, bytes]:
    return 200, orjson.dumps(data)


async def _me(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return _ok({"object": "principal", "user": who.user, "admin": who.admin})


async def _mesh(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "the Mesh page")
    return _ok(await svc.views.instances())


async def _jobs(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "the Jobs page")
    return _ok(await svc.views.jobs())


def _job_id(who: Principal, parts: list[str], what: str = "the Jobs page") -> str:
    """The job id of a Jobs page route, for an admin only."""
    require_admin(who.admin, what)
    if not _ID.match(parts[1]):
        raise StudioError(400, f"not a job id: {parts[1]!r}")
    return parts[1]


async def _job(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return _ok(await svc.views.job(_job_id(who, parts)))


async def _job_graph(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return _ok(await svc.views.job_graph(_job_id(who, parts)))


async def _job_logs(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return _ok(await svc.views.job_logs(_job_id(who, parts)))


async def _job_result(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return _ok(await svc.views.job_result(_job_id(who, parts)))


async def _job_action(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return _ok(await svc.views.act(_job_id(who, parts, "managing jobs"), parts[2]))


async def _pipeline_ops(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "the Builder")
    from sage_client.pipeline_spec import catalogue

    return _ok({"object": "list", "data": catalogue()})


async def _pipeline_run(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "running pipelines")
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise StudioError(400, f"the request body is not valid JSON: {exc}") from None
    return _ok(await svc.views.run_pipeline(data))


async def _collections(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "the Data page")
    return _ok(await svc.views.collections())


async def _kv_scan(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "the Data page")
    if not _NAME.match(parts[1]):
        raise StudioError(400, f"not a KV namespace: {parts[1]!r}")
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise StudioError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StudioError(400, "the request body must be a JSON object")
    prefix, token = data.get("prefix", ""), data.get("page_token", "")
    if not isinstance(prefix, str) or len(prefix) > 1024:
        raise StudioError(400, "`prefix` must be a string of at most 1024 characters")
    if not isinstance(token, str) or len(token) > 4096:
        raise StudioError(400, "`page_token` must be the string a previous page returned")
    size = data.get("page_size", 50)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 500:
        raise StudioError(400, "`page_size` must be a whole number from 1 to 500")
    return _ok(await svc.views.kv_page(parts[1], prefix, size, token))


async def _tsdb_series(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "the Data page")
    return _ok(await svc.views.tsdb_series())


_TAG = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")  # tag keys and values the chart can filter on


async def _tsdb_chart(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "the Data page")
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise StudioError(400, f"the request body is not valid JSON: {exc}") from None
    metric = data.get("metric") if isinstance(data, dict) else None
    if not isinstance(metric, str) or not _NAME.match(metric):
        raise StudioError(400, "`metric` must be a metric name (letters, digits, . _ -)")
    tags = data.get("tags", {})
    if not isinstance(tags, dict) or len(tags) > 16:
        raise StudioError(400, "`tags` must be an object of at most 16 tags")
    for key, value in tags.items():
        if not (_TAG.match(key) and isinstance(value, str) and _TAG.match(value)):
            raise StudioError(
                400, f"tag {key!r}: keys and values are 1-128 of A-Z a-z 0-9 _ . : / -"
            )
    return _ok(await svc.views.tsdb_chart(metric, tags))


async def _search(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    require_admin(who.admin, "the Data page")
    if not _NAME.match(parts[1]):
        raise StudioError(400, f"not a collection name: {parts[1]!r}")
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise StudioError(400, f"the request body is not valid JSON: {exc}") from None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise StudioError(400, "`text` must be a non-empty string (what to search for)")
    top_k = data.get("top_k", 10)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 100:
        raise StudioError(400, "`top_k` must be a whole number from 1 to 100")
    where = data.get("where")
    if where is not None and (not isinstance(where, dict) or len(orjson.dumps(where)) > 8192):
        raise StudioError(400, "`where` must be a metadata filter object (at most 8 KiB)")
    return _ok(await svc.views.search(parts[1], text, top_k, where or None))


async def _chat_message(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return await svc.chat.message(auth, body)


async def _chat_sessions(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return await svc.chat.sessions(auth)


async def _chat_create(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    return await svc.chat.create(auth, body)


async def _chat_delete(svc: Services, who: Principal, auth: str, parts: list[str], body: bytes):
    if not _ID.match(parts[2]):
        raise StudioError(400, f"not a session id: {parts[2]!r}")
    return await svc.chat.delete(auth, parts[2])
