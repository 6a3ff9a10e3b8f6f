"""Polling what a running worker writes into its job folder: log lines and metrics become
events, ``outcome.json`` tells how a run ended. The worker's files are read with
``identity.read_worker_file``; a job that writes nonsense there loses only its own events."""

from __future__ import annotations

import json

from sage_kernel import identity
from sage_kernel.event_log import EventLog
from sage_kernel.job_folder import JobFolder
from sage_proto.kernel.v1 import kernel_pb2


class WorkerFiles:
    """One job's worker files and how far they have been read."""

    def __init__(self, folder: JobFolder, events: EventLog) -> None:
        self.folder = folder
        self.events = events
        self.log_offset = 0
        self.metrics_mtime = 0.0
        self.checkpoints = 0
        self.latest: dict[str, kernel_pb2.OperatorMetrics] = {}  # operator id -> last counters

    def poll_logs(self) -> None:
        try:
            with self.folder.log.open("rb") as f:
                f.seek(self.log_offset)
                chunk = f.read()
        except OSError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        self.log_offset += end + 1
        for line in chunk[:end].split(b"\n"):
            self.events.emit(log_line=line.decode("utf-8", "replace"))

    def poll_metrics(self) -> None:
        path = self.folder.metrics
        try:
            mtime = path.stat().st_mtime
            if mtime == self.metrics_mtime:
                return
            self.metrics_mtime = mtime
            metrics = json.loads(identity.read_worker_file(path, 1 << 24))
            operators = [kernel_pb2.OperatorMetrics(**op) for op in metrics.get("operators", [])]
            checkpoints = int(metrics.get("checkpoints", self.checkpoints))
        except (OSError, ValueError, TypeError, AttributeError):
            return  # the worker's file: a job that writes nonsense there loses its metrics
        for op in operators:
            self.events.emit(metrics=op)
            self.latest[op.operator_id] = op
        self.checkpoints = checkpoints

    def poll(self) -> None:
        self.poll_logs()
        self.poll_metrics()

    def loaded(self) -> bool:
        """The worker decoded and planned the graph, and runs it."""
        return self.folder.loaded.exists()

    def reported(self) -> bool:
        """The worker has written how its run ended."""
        return self.folder.outcome.exists()

    def outcome(self) -> dict[str, str]:
        try:
            return dict(json.loads(identity.read_worker_file(self.folder.outcome, 1 << 24)))
        except (OSError, ValueError):
            return {}
