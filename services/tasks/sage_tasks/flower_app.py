"""The Celery app Flower runs with (``sage task ui``): the mesh's task settings, so Flower's
keys carry the queue's prefix the ``tasks`` Redis user may touch. The broker URL comes from
``CELERY_BROKER_URL`` (the CLI sets it; never on the command line)."""

from __future__ import annotations

import os

from celery import Celery

from sage_client.task_protocol import celery_settings

app = Celery("sage_tasks_flower")
app.conf.update(celery_settings(os.environ["CELERY_BROKER_URL"]))
