"""Job records on disk: one folder per job under ``<data_dir>/jobs/<id>/``, its files named by
``sage_kernel.job_folder.JobFolder`` (``job.json`` is the record, ``graph.pb`` the submitted
request, the rest the worker's).

The files are the source of truth, so a restarted manager lists every earlier job. Who may
write which file (the worker runs as ``worker_user``): see ``sage_kernel.identity``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sage_kernel.job_folder import JobFolder
from sage_proto.kernel.v1 import kernel_pb2

FINAL_STATES = frozenset(
    {kernel_pb2.JOB_STATE_SUCCEEDED, kernel_pb2.JOB_STATE_FAILED, kernel_pb2.JOB_STATE_CANCELLED}
)


@dataclass
class JobRecord:
    id: str
    name: str
    executor: str
    state: int = kernel_pb2.JOB_STATE_PENDING
    error: str = ""
    restart_count: int = 0
    create_time: float = field(default_factory=time.time)
    end_time: float = 0.0
    worker_pid: int = 0
    seq: int = 0  # submission order, for newest-first listing

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def to_proto(self, checkpoints: int = 0) -> kernel_pb2.Job:
        job = kernel_pb2.Job(
            id=self.id,
            name=self.name,
            state=self.state,  # type: ignore[arg-type]
            executor=self.executor,
            error=self.error,
            restart_count=self.restart_count,
            worker_pid=self.worker_pid if not self.final else 0,
            checkpoint_count=checkpoints,
        )
        job.create_time.FromNanoseconds(int(self.create_time * 1e9))
        if self.end_time:
            job.end_time.FromNanoseconds(int(self.end_time * 1e9))
        return job


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class JobStore:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.root = Path(data_dir) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, job_id: str) -> JobFolder:
        return JobFolder(self.root / job_id)

    def create(self, record: JobRecord, request: bytes) -> JobFolder:
        folder = self.folder(record.id)
        folder.path.mkdir(parents=True)
        write_atomic(folder.request, request)
        self.save(record)
        return folder

    def save(self, record: JobRecord) -> None:
        write_atomic(self.folder(record.id).record, json.dumps(asdict(record)).encode())

    def load_all(self) -> list[JobRecord]:
        records = []
        for path in self.root.iterdir():
            try:
                data: dict[str, Any] = json.loads(JobFolder(path).record.read_text())
            except (OSError, ValueError):
                continue  # a folder whose submission never completed
            records.append(JobRecord(**data))
        return sorted(records, key=lambda r: r.seq)
