"""The mesh's task workers: Celery workers on the mesh's Redis running the named tasks of
``sage_tasks.builtin`` (and allow-listed functions), for ``sage_client.tasks`` submitters."""
