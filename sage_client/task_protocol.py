"""What a task submitter and a task worker agree on: the queue, the Redis keys, the Celery
settings both sides need, and the signature a submission carries.

Celery moves the messages; the mesh adds three things (docs/tasks.md):

- **JSON only.** Messages and results are JSON (``accept_content=["json"]``): a message can
  name a task and pass data, never carry code (pickle would run whatever it holds).
- **A signed submitter.** A submission carries ``sage_auth`` in its headers: the key id of the
  submitter's mesh token (``sha256(token)[:32]``, never the token) and an HMAC-SHA256 of the
  task id, name, arguments and issue time, keyed by that token. The worker knows the mesh's
  tokens (its secrets file), so it finds the principal, checks the HMAC and then its roles;
  someone holding only the broker's password cannot submit as anyone.
- **Broker credentials.** The broker is the mesh's Redis; its ``tasks`` ACL user may touch
  the task keys (``sage-tasks:*``) only, not the KV service's data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

QUEUE = "sage-tasks"
KEY_PREFIX = "sage-tasks:"  # every broker and result key (kombu's global_keyprefix)
INDEX_KEY = KEY_PREFIX + "index"  # sorted set: task id -> submit time
INFO_KEY = KEY_PREFIX + "info:"  # hash per task: name, principal, submitted
CANCELLED_KEY = KEY_PREFIX + "cancelled:"  # set when a task is cancelled (survives worker restarts)
ATTEMPTS_KEY = KEY_PREFIX + "attempts:"  # deliveries of one task id and retry number
AUTH_HEADER = "sage_auth"
PROGRESS = "PROGRESS"  # the custom state a running task reports its progress in
REDIS_TASKS_USER = "tasks"
BROKER_ENV = "SAGE_TASKS_BROKER_URL"
REDIS_ENV = "SAGE_REDIS_URL"
RECORD_TTL_S = 24 * 3600  # results, index entries and markers live a day (Celery's default)


def celery_settings(broker_url: str) -> dict[str, Any]:
    """Celery settings both sides use (the worker adds its own in ``sage_tasks.app``)."""
    transport = {"global_keyprefix": KEY_PREFIX}
    return {
        "broker_url": broker_url,
        "result_backend": broker_url,
        "broker_transport_options": dict(transport),
        "result_backend_transport_options": dict(transport),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_default_queue": QUEUE,
        "task_create_missing_queues": True,
        "result_expires": RECORD_TTL_S,
        "result_extended": True,
        "task_track_started": True,
        "broker_connection_retry_on_startup": True,
    }


# -- the broker's address ------------------------------------------------------------------


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/0", parts.query, parts.fragment))


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or "127.0.0.1"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _mesh_redis_url(run_dir: Path) -> str | None:
    """The Redis of the mesh `sage mesh up` runs under ``run_dir`` (its state.json), or None."""
    try:
        ports = json.loads((run_dir / "state.json").read_text())["ports"]
        return f"redis://127.0.0.1:{int(ports['redis'])}/0"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def broker_url(
    url: str | None = None,
    secrets: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The broker URL: ``url``, else ``SAGE_TASKS_BROKER_URL``, else ``SAGE_REDIS_URL`` (what
    the mesh's processes get), else the Redis of the mesh under ``./run``. A URL without a
    password gets the ``tasks`` user's from the mesh's secrets (when they hold one)."""
    env = os.environ if env is None else env
    chosen = url or env.get(BROKER_ENV) or env.get(REDIS_ENV) or _mesh_redis_url(Path("run"))
    if not chosen:
        raise ValueError(
            "no task broker: pass broker=redis://HOST:PORT/0, set SAGE_TASKS_BROKER_URL, or run "
            "`sage mesh up` here (its Redis is the broker)"
        )
    if urlsplit(chosen).password is None and secrets is not None:
        users = (secrets.get("redis") or {}).get("users") or {}
        if REDIS_TASKS_USER in users:
            return _with_user(chosen, REDIS_TASKS_USER, str(users[REDIS_TASKS_USER]))
    return chosen


# -- the submitter's signature -------------------------------------------------------------


def key_id(token: str) -> str:
    """Names a token without revealing it (the worker indexes the mesh's tokens by it)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _canonical(
    task_id: str, name: str, args: Sequence[Any], kwargs: Mapping[str, Any], issued_at: int
) -> bytes:
    body = [task_id, name, list(args), dict(kwargs), int(issued_at)]
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(
    token: str,
    task_id: str,
    name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    issued_at: int | None = None,
) -> dict[str, Any]:
    """The ``sage_auth`` header of a submission by the holder of ``token``."""
    iat = int(time.time()) if issued_at is None else int(issued_at)
    mac = hmac.new(token.encode(), _canonical(task_id, name, args, kwargs, iat), hashlib.sha256)
    return {"kid": key_id(token), "iat": iat, "sig": mac.hexdigest()}


def signature_matches(
    token: str,
    header: Mapping[str, Any],
    task_id: str,
    name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> bool:
    try:
        iat = int(header["iat"])
        given = str(header["sig"])
    except (KeyError, TypeError, ValueError):
        return False
    mac = hmac.new(token.encode(), _canonical(task_id, name, args, kwargs, iat), hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), given)


def as_json(value: Any, what: str) -> Any:
    """``value`` as JSON gives it back (tuples become lists); ValueError naming ``what`` when
    it is not JSON data (a task's arguments cross the broker as JSON only)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON data (str, number, list, dict...): {exc}") from None
