"""SageTask: the base of every task the worker runs — admission, progress and retry policy.

Before a task's body runs (``__call__``), in one Redis round trip:

1. its submitter is checked (``guard.authorize``): signature, token, roles;
2. a task cancelled before it started (``TaskClient.cancel``) is marked REVOKED, not run;
3. the delivery is counted: a message delivered again for the same retry number means the
   worker running it died (kill -9, OOM, a lost machine). Celery gives it back
   (``acks_late`` + ``reject_on_worker_lost``, or the broker's visibility timeout when the
   whole worker vanished); after ``crash_retries`` such reruns it fails with ``WorkerLost``
   instead of crashing workers for ever.

Transient mesh errors (UNAVAILABLE, DEADLINE_EXCEEDED) are retried with exponential backoff
(``max_retries`` 3); any other exception fails the task with its message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import celery
import redis
from celery.exceptions import Ignore

from sage_client.errors import DeadlineExceeded, SageError, Unavailable
from sage_client.task_protocol import (
    ATTEMPTS_KEY,
    AUTH_HEADER,
    CANCELLED_KEY,
    INFO_KEY,
    PROGRESS,
    RECORD_TTL_S,
)
from sage_tasks.guard import Keyring, authorize


class WorkerLost(SageError):
    """The task's worker died under it more often than its policy reruns it."""


_local = threading.local()


def _redis(url: str) -> redis.Redis:
    # one client per process and thread (prefork children open their own after the fork)
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "url", None) != url:
        client = redis.Redis.from_url(url, socket_timeout=10)
        _local.client, _local.url = client, url
    return client


_keyrings: dict[str, Keyring] = {}


def _keyring(secrets_file: str) -> Keyring:
    ring = _keyrings.get(secrets_file)
    if ring is None:
        ring = _keyrings[secrets_file] = Keyring(secrets_file)
    return ring


def _header(request: Any) -> Any:
    value = getattr(request, AUTH_HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(AUTH_HEADER)
    return value


class SageTask(celery.Task):
    abstract = True
    autoretry_for = (Unavailable, DeadlineExceeded)
    max_retries = 3
    retry_backoff = True
    retry_backoff_max = 60
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if not request.called_directly:
            self._admit(request, args, kwargs)
        return self.run(*args, **kwargs)

    def _admit(self, request: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        conf = self.app.conf
        principal = authorize(
            _keyring(conf.sage_secrets_file), _header(request), request.id, self.name, args, kwargs
        )
        attempts_key = f"{ATTEMPTS_KEY}{request.id}:{request.retries or 0}"
        pipe = _redis(conf.broker_url).pipeline(transaction=False)
        pipe.exists(CANCELLED_KEY + request.id)
        pipe.incr(attempts_key)
        pipe.expire(attempts_key, RECORD_TTL_S)
        pipe.hset(INFO_KEY + request.id, "principal", principal.name)
        cancelled, deliveries, _, _ = pipe.execute()
        if cancelled:
            self.backend.mark_as_revoked(request.id, "cancelled before it started", request)
            raise Ignore()
        reruns = int(deliveries) - 1
        if reruns > conf.sage_crash_retries:
            raise WorkerLost(
                f"task {self.name!r} ({request.id}) was running when its worker died "
                f"{reruns} times; its policy reruns it {conf.sage_crash_retries} times"
            )

    def progress(self, done: int, total: int | None = None, **extra: Any) -> None:
        """Report progress: the task's state becomes PROGRESS with ``{"done", "total",
        "worker", ...}`` (``worker``: the hostname of the worker running it)."""
        if self.request.called_directly:
            return
        meta = {"done": done, "total": total, "worker": self.request.hostname, **extra}
        self.update_state(state=PROGRESS, meta=meta)
