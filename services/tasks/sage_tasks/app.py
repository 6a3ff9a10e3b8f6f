"""The worker's Celery app: the shared settings (``sage_client.task_protocol``) plus what makes
a task survive its worker: ``acks_late`` (a message is acknowledged when the task ends, not
when it starts), ``reject_on_worker_lost`` (a task whose child process died goes back to the
queue), prefetch 1 (a worker holds no more than it runs) and the broker's visibility timeout
(a task taken by a worker that vanished is handed to another)."""

from __future__ import annotations

from typing import Any

from celery import Celery

from sage_client.credentials import CredentialsError, load_secrets
from sage_client.task_protocol import (
    REDIS_TASKS_USER,
    broker_url,
    celery_settings,
    without_credentials,
)
from sage_tasks.config import TasksConfig

BUILTIN_MODULE = "sage_tasks.builtin"


def worker_settings(config: TasksConfig, broker: str) -> dict[str, Any]:
    """Every Celery setting of a worker with ``config`` on ``broker`` (the bench's plain-Celery
    peer runs with the same ones)."""
    settings = celery_settings(broker)
    transport = settings["broker_transport_options"]
    transport["visibility_timeout"] = config.visibility_timeout_s
    # Look for a vanished worker's tasks every min(10 s, visibility timeout) (kombu's default
    # is every 100 s); a restore lock left by a killed worker expires after a minute, not five.
    transport["unacked_restore_interval"] = min(10, config.visibility_timeout_s)
    transport["unacked_restore_throttle"] = 1
    transport["unacked_mutex_expire"] = 60
    settings.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=config.concurrency,
        worker_pool=config.pool,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=True,
    )
    return settings


def broker_for(config: TasksConfig) -> str:
    """The broker as the ``tasks`` Redis user when the secrets have one (whatever user the
    URL names: the launcher hands every service the ``sage`` user's URL), else the URL."""
    secrets = None
    if config.secrets_file:
        try:
            secrets = load_secrets(config.secrets_file)
        except CredentialsError:
            secrets = None
    url = config.redis_url or None
    if (
        url
        and secrets is not None
        and REDIS_TASKS_USER in secrets.get("redis", {}).get("users", {})
    ):
        url = without_credentials(url)
    return broker_url(url, secrets)


def create_app(config: TasksConfig) -> Celery:
    if not config.secrets_file:
        raise ValueError(
            "a task worker needs the mesh's secrets file (SAGE_SECRETS_FILE): it checks every "
            "task's submitter against the mesh's tokens and runs nothing unsigned"
        )
    app = Celery("sage_tasks", set_as_current=True)
    app.conf.update(worker_settings(config, broker_for(config)))
    app.conf.update(
        sage_secrets_file=config.secrets_file,
        sage_crash_retries=config.crash_retries,
        sage_allowed_modules=list(config.allowed_modules),
        sage_ingest_roots=list(config.ingest_roots),
    )
    import sage_tasks.builtin  # noqa: F401  (registers the named tasks on this app)

    return app
