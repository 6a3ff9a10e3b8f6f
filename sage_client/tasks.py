"""Async tasks on the mesh's Celery workers: submit a named task, follow it, cancel it.

    from sage_client.tasks import TaskClient

    tasks = TaskClient()  # the mesh under ./run, or SAGE_TASKS_BROKER_URL / SAGE_REDIS_URL
    job = tasks.submit("sage.ingest_folder", collection="docs", folder="docs")
    job.status()            # TaskStatus(state="PROGRESS", progress={"done": 64, ...}, ...)
    job.result(timeout=600) # {"collection": "docs", "files": 12, "chunks": 310}
    tasks.cancel(job.id)    # revoke; a running task's process is terminated
    tasks.list()            # the newest submissions with their states

Every submission is signed with this process's mesh token (``sage_client.credentials``: the
same one its gRPC calls present); the worker checks it and the principal's roles before it
runs anything (``sage_client.task_protocol``, docs/tasks.md). Arguments cross as JSON.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sage_client import credentials
from sage_client.errors import (
    Cancelled,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    SageError,
    Unauthenticated,
)
from sage_client.task_protocol import (
    AUTH_HEADER,
    CANCELLED_KEY,
    INDEX_KEY,
    INFO_KEY,
    PROGRESS,
    QUEUE,
    RECORD_TTL_S,
    as_json,
    broker_url,
    celery_settings,
    sign,
)

READY_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
# exception type names a worker stores -> the SDK's error classes
_ERRORS: dict[str, type[SageError]] = {
    "Unauthenticated": Unauthenticated,
    "PermissionDenied": PermissionDenied,
    "InvalidArgument": InvalidArgument,
    "NotFound": NotFound,
}


class TaskFailed(SageError):
    """The task ended in FAILURE; ``error_type`` names the exception the worker raised."""

    def __init__(self, message: str, *, error_type: str = "", task_id: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.task_id = task_id


@dataclass(frozen=True)
class TaskStatus:
    id: str
    name: str
    state: str  # PENDING, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE, REVOKED
    progress: dict[str, Any] | None = None
    result: Any = None
    error: str = ""  # "<ExceptionType>: <message>" of a FAILURE
    principal: str = ""  # who submitted it, once a worker has checked
    submitted: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state in READY_STATES


def _error_text(info: Any) -> tuple[str, str]:
    if isinstance(info, BaseException):
        message = info.message if isinstance(info, SageError) else str(info)
        return type(info).__name__, message
    return "", "" if info is None else str(info)


class TaskHandle:
    """One submitted task."""

    def __init__(self, client: TaskClient, task_id: str) -> None:
        self.client = client
        self.id = task_id

    def status(self) -> TaskStatus:
        return self.client.status(self.id)

    def result(self, timeout: float | None = None) -> Any:
        return self.client.result(self.id, timeout, _known=True)

    def cancel(self) -> None:
        self.client.cancel(self.id)

    def __repr__(self) -> str:
        return f"TaskHandle({self.id!r})"


class TaskClient:
    """Submits and follows tasks through the mesh's broker (Redis).

    ``broker``: a ``redis://`` URL (default: ``task_protocol.broker_url``'s search; a URL
    without a password gets the ``tasks`` user's from the secrets file). ``token``: the mesh
    token submissions are signed with (default: this process's, as its gRPC calls)."""

    def __init__(self, broker: str | None = None, *, token: str | None = None) -> None:
        from celery import Celery

        secrets = None
        path = credentials.secrets_path()
        if path is not None:
            try:
                secrets = credentials.load_secrets(path)
            except credentials.CredentialsError:
                secrets = None
        self.broker = broker_url(broker, secrets)
        self._token = token if token is not None else credentials.default_token()
        self._app = Celery("sage_client.tasks", set_as_current=False)
        self._app.conf.update(celery_settings(self.broker))
        self._redis: Any = None

    # -- plumbing ------------------------------------------------------------------------
    def _kv(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.broker, socket_timeout=10)
        return self._redis

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        self._app.close()

    def __enter__(self) -> TaskClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ---------------------------------------------------------------------------
    def submit(self, name: str, *args: Any, **kwargs: Any) -> TaskHandle:
        """Queue task ``name`` (e.g. ``sage.ingest_folder``) with JSON ``args``/``kwargs``."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgument("a task is named, e.g. 'sage.ingest_folder'", field="name")
        if not self._token:
            raise Unauthenticated(
                "no mesh credential to sign the task with: set SAGE_TOKEN, or SAGE_SECRETS_FILE "
                "+ SAGE_PRINCIPAL (`sage mesh up` writes run/secrets/mesh.json)"
            )
        try:
            args_j, kwargs_j = as_json(list(args), "args"), as_json(dict(kwargs), "kwargs")
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        task_id = str(uuid.uuid4())
        header = sign(self._token, task_id, name, args_j, kwargs_j)
        info = INFO_KEY + task_id
        pipe = self._kv().pipeline(transaction=False)
        pipe.hset(info, mapping={"name": name, "submitted": repr(time.time())})
        pipe.expire(info, RECORD_TTL_S)
        pipe.zadd(INDEX_KEY, {task_id: time.time()})
        pipe.execute()
        self._app.send_task(
            name,
            args=args_j,
            kwargs=kwargs_j,
            task_id=task_id,
            queue=QUEUE,
            headers={AUTH_HEADER: header},
        )
        return TaskHandle(self, task_id)

    def _info(self, task_id: str) -> dict[str, str]:
        raw = self._kv().hgetall(INFO_KEY + task_id)
        if not raw:
            raise NotFound(
                f"no task {task_id!r} was submitted in the last day; `sage task ls` lists them"
            )
        return {k.decode(): v.decode() for k, v in raw.items()}

    def status(self, task_id: str) -> TaskStatus:
        info = self._info(task_id)
        return self._status(task_id, info)

    def _status(self, task_id: str, info: Mapping[str, str]) -> TaskStatus:
        res = self._app.AsyncResult(task_id)
        state, payload = res.state, res.info
        progress = payload if state == PROGRESS and isinstance(payload, dict) else None
        kind, message = ("", "")
        if state == "FAILURE" or state == "REVOKED":
            kind, message = _error_text(payload)
        return TaskStatus(
            id=task_id,
            name=info.get("name", ""),
            state=state,
            progress=progress,
            result=payload if state == "SUCCESS" else None,
            error=f"{kind}: {message}" if kind else message,
            principal=info.get("principal", ""),
            submitted=float(info.get("submitted", 0) or 0),
        )

    def result(self, task_id: str, timeout: float | None = None, *, _known: bool = False) -> Any:
        """The task's return value, waiting up to ``timeout`` seconds (None: for ever).
        TaskFailed (or the SDK error the worker raised), Cancelled, DeadlineExceeded;
        NotFound for an id nobody submitted."""
        if not _known:  # a handle from submit() names a task that exists
            self._info(task_id)
        from celery.exceptions import TimeoutError as NotReady

        res = self._app.AsyncResult(task_id)
        try:
            value = res.get(timeout=timeout, propagate=False, interval=0.05)
        except NotReady:
            raise DeadlineExceeded(
                f"task {task_id} did not finish within {timeout}s (state {res.state})"
            ) from None
        state = res.state
        if state == "SUCCESS":
            return value
        kind, message = _error_text(res.info)
        if state == "REVOKED":
            raise Cancelled(f"task {task_id} was cancelled")
        if kind == "NotRegistered":  # Celery's answer to a name no worker registered
            raise NotFound(
                f"the workers have no task {message}; docs/tasks.md lists the named tasks"
            )
        error = _ERRORS.get(kind)
        if error is not None:
            raise error(message)
        raise TaskFailed(
            f"task {task_id} failed: {kind}: {message}", error_type=kind, task_id=task_id
        )

    def cancel(self, task_id: str, terminate: bool = True) -> None:
        """Cancel: a queued task never starts (even on a worker that starts later); a running
        one's process is terminated when ``terminate``."""
        self._info(task_id)
        self._kv().set(CANCELLED_KEY + task_id, b"1", ex=RECORD_TTL_S)
        self._app.control.revoke(task_id, terminate=terminate, signal="SIGTERM")

    def list(self, limit: int = 50) -> list[TaskStatus]:
        """The newest ``limit`` submissions of the last day, newest first."""
        self._kv().zremrangebyscore(INDEX_KEY, "-inf", time.time() - RECORD_TTL_S)
        ids = [i.decode() for i in self._kv().zrevrange(INDEX_KEY, 0, max(limit, 1) - 1)]
        pipe = self._kv().pipeline(transaction=False)
        for task_id in ids:
            pipe.hgetall(INFO_KEY + task_id)
        out = []
        for task_id, raw in zip(ids, pipe.execute(), strict=True):
            if raw:
                info = {k.decode(): v.decode() for k, v in raw.items()}
                out.append(self._status(task_id, info))
        return out
