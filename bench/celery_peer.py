"""The plain-Celery peer of bench/tasks.py: what a user writes without the SDK — one app on the
same broker with the same worker settings (``sage_tasks.app.worker_settings``), a plain task, no
signature, no admission checks. ``python -m celery -A celery_peer worker`` runs it."""

from __future__ import annotations

import os

from celery import Celery

from sage_tasks.app import worker_settings
from sage_tasks.config import TasksConfig

BROKER = os.environ["BENCH_BROKER_URL"]
app = Celery("celery_peer")
app.conf.update(
    worker_settings(TasksConfig(concurrency=int(os.environ.get("BENCH_CONCURRENCY", "2"))), BROKER)
)


@app.task(name="bench.echo")
def echo(value: object = None) -> object:
    return value
