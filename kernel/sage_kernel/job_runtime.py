"""A job's in-memory companion of its record: its worker, events, worker files and followers."""

from __future__ import annotations

import asyncio

from sage_kernel.event_log import EventLog
from sage_kernel.job_folder import JobFolder
from sage_kernel.store import JobRecord
from sage_kernel.worker_files import WorkerFiles
from sage_kernel.worker_process import WorkerProcess
from sage_proto.kernel.v1 import kernel_pb2


class JobRuntime:
    def __init__(
        self, record: JobRecord, request: kernel_pb2.SubmitJobRequest, folder: JobFolder
    ) -> None:
        self.record = record
        self.request = request
        self.folder = folder
        self.worker: WorkerProcess | None = None
        self.events = EventLog()
        self.files = WorkerFiles(folder, self.events)
        self.cancel_requested = False
        self.loaded = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.token = ""  # the submitter's bearer token: the worker calls services with it

    @property
    def checkpoints(self) -> int:
        """Checkpoints the worker has taken, as its metrics last said."""
        return self.files.checkpoints
