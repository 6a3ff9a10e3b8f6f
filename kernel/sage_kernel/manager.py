"""The job manager: owns job records and answers requests on them (submit, list, cancel, pause,
resume, delete, result, follow). gRPC-free (the servicer maps its errors). Its parts, one job
each: ``supervisor`` (the state machine a job's task runs), ``event_log`` (events kept for
followers), ``worker_files`` (polling what a worker writes), ``standby`` (pre-started workers),
``worker_process`` (a worker's process handle)."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import uuid
from collections.abc import AsyncIterator

from sage_kernel import identity
from sage_kernel.config import KernelConfig
from sage_kernel.event_log import EVENT_HISTORY
from sage_kernel.job_runtime import JobRuntime
from sage_kernel.standby import StandbyPool
from sage_kernel.store import JobRecord, JobStore
from sage_kernel.supervisor import Supervisor
from sage_kernel.worker_process import WorkerProcess, is_worker_of
from sage_proto.kernel.v1 import kernel_pb2

__all__ = ["EVENT_HISTORY", "JobError", "JobManager", "JobRuntime"]

log = logging.getLogger("sage.kernel")


class JobError(Exception):
    """A request the manager refuses; ``kind`` picks the status (not_found, precondition...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class JobManager:
    def __init__(self, config: KernelConfig) -> None:
        self.config = config
        self.store = JobStore(config.data_dir)
        self.jobs: dict[str, JobRuntime] = {}
        self._seq = 0
        # pre-started workers per executor: a job's first record does not wait for imports
        self.standby = StandbyPool(config.standby_workers, self.store.root)
        self.supervisor = Supervisor(config, self.store, self.standby)

    @property
    def worker_identity(self) -> identity.WorkerIdentity | None:
        return self.supervisor.worker_identity

    @worker_identity.setter
    def worker_identity(self, value: identity.WorkerIdentity | None) -> None:
        self.supervisor.worker_identity = value
        self.standby.worker_identity = value

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Load every earlier job; re-attach to live workers, restart or fail the others."""
        self.worker_identity = identity.resolve(self.config.worker_user)
        identity.prepare_jobs_root(self.store.root, self.worker_identity)
        if self.worker_identity is not None:
            log.info(
                "job workers run as %s (uid %d)",
                self.worker_identity.user,
                self.worker_identity.uid,
            )
        for record in self.store.load_all():
            self._seq = max(self._seq, record.seq)
            folder = self.store.folder(record.id)
            request = kernel_pb2.SubmitJobRequest.FromString(folder.request.read_bytes())
            runtime = JobRuntime(record, request, folder)
            with contextlib.suppress(OSError):
                runtime.token = folder.token.read_text().strip()
            self.jobs[record.id] = runtime
            self._replay_history(runtime)
            if record.final:
                continue
            if record.worker_pid and is_worker_of(record.worker_pid, folder):
                log.info("job %s: re-attaching to worker pid %d", record.id, record.worker_pid)
                runtime.worker = WorkerProcess(record.worker_pid, None)
                runtime.loaded.set()
            runtime.task = asyncio.create_task(self.supervisor.run(runtime, reattached=True))
        await self.standby.start(("local", ""))

    async def stop(self) -> None:
        """The manager goes away; workers keep running and the next manager re-attaches."""
        await self.standby.stop()
        for runtime in self.jobs.values():
            if runtime.task is not None:
                runtime.task.cancel()
        for runtime in self.jobs.values():
            if runtime.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await runtime.task

    def _replay_history(self, runtime: JobRuntime) -> None:
        runtime.events.emit(state=runtime.record.state)
        runtime.files.poll_logs()

    # -- requests -------------------------------------------------------------------------
    async def submit(self, request: kernel_pb2.SubmitJobRequest, token: str = "") -> JobRecord:
        """``token``: the submitter's bearer token, handed to the job's worker."""
        self._seq += 1
        record = JobRecord(
            id=f"job-{uuid.uuid4().hex[:12]}",
            name=request.name or "sage-job",
            executor=request.executor or "local",
            seq=self._seq,
        )
        request.executor = record.executor
        folder = self.store.create(record, request.SerializeToString())
        if token:  # kept for restarts after a manager restart; the manager's alone (0600)
            fd = os.open(folder.token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(token)
        runtime = JobRuntime(record, request, folder)
        runtime.token = token
        self.jobs[record.id] = runtime
        runtime.events.emit(state=record.state)
        runtime.task = asyncio.create_task(self.supervisor.run(runtime, reattached=False))
        loaded = asyncio.ensure_future(runtime.loaded.wait())
        try:
            await asyncio.wait(
                [loaded, runtime.task],
                timeout=self.config.submit_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            loaded.cancel()
        if not runtime.loaded.is_set() and record.final:
            outcome = runtime.files.outcome()
            reason = outcome.get("reason") or "FAILED_PRECONDITION"
            kind = "invalid" if reason == "INVALID_ARGUMENT" else "precondition"
            raise JobError(kind, f"job {record.id} rejected: {record.error}")
        return record

    def get(self, job_id: str) -> JobRuntime:
        runtime = self.jobs.get(job_id)
        if runtime is None:
            raise JobError("not_found", f"no job with id {job_id!r}; `sage job ls` lists them")
        return runtime

    def list(self, state: int, page_size: int, page_token: str) -> tuple[list[JobRecord], str]:
        try:
            before = int(page_token) if page_token else sys.maxsize
        except ValueError:
            raise JobError(
                "invalid", f"page_token {page_token!r} is not one this server returned"
            ) from None
        records = sorted((r.record for r in self.jobs.values()), key=lambda r: r.seq, reverse=True)
        matching = [r for r in records if r.seq < before and (not state or r.state == state)]
        page = matching[:page_size]
        token = str(page[-1].seq) if len(matching) > page_size else ""
        return page, token

    async def cancel(self, job_id: str) -> JobRecord:
        runtime = self.get(job_id)
        if runtime.record.final:
            return runtime.record
        runtime.cancel_requested = True
        worker = runtime.worker
        if worker is not None:
            worker.signal_group(signal.SIGCONT)  # a paused worker must run to handle SIGTERM
            worker.signal_group(signal.SIGTERM)
            asyncio.get_running_loop().call_later(
                self.config.cancel_grace_s, worker.signal_group, signal.SIGKILL
            )
        await runtime.events.notify()  # wake a supervisor sleeping before a restart
        if runtime.task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(runtime.task), self.config.cancel_grace_s + 5)
        return runtime.record

    async def pause(self, job_id: str) -> JobRecord:
        runtime = self.get(job_id)
        if runtime.record.state != kernel_pb2.JOB_STATE_RUNNING or runtime.worker is None:
            raise JobError(
                "precondition",
                f"job {job_id} is {kernel_pb2.JobState.Name(runtime.record.state)}; only RUNNING jobs pause",
            )
        runtime.worker.signal_group(signal.SIGSTOP)
        self.supervisor.set_state(runtime, kernel_pb2.JOB_STATE_PAUSED)
        return runtime.record

    async def resume(self, job_id: str) -> JobRecord:
        runtime = self.get(job_id)
        if runtime.record.state != kernel_pb2.JOB_STATE_PAUSED or runtime.worker is None:
            raise JobError(
                "precondition",
                f"job {job_id} is {kernel_pb2.JobState.Name(runtime.record.state)}; only PAUSED jobs resume",
            )
        runtime.worker.signal_group(signal.SIGCONT)
        self.supervisor.set_state(runtime, kernel_pb2.JOB_STATE_RUNNING)
        return runtime.record

    async def delete(self, job_id: str, force: bool = False) -> JobRecord:
        """Forget a finished job (``force``: cancel it first): its record and its folder."""
        runtime = self.get(job_id)
        if not runtime.record.final:
            if not force:
                state = kernel_pb2.JobState.Name(runtime.record.state)
                raise JobError(
                    "precondition",
                    f"job {job_id} is {state}; cancel it first, or delete it with force "
                    "(`sage job delete --force`)",
                )
            await self.cancel(job_id)
        record = runtime.record
        self.jobs.pop(job_id, None)
        shutil.rmtree(self.store.folder(job_id).path, ignore_errors=True)
        return record

    def result(self, job_id: str) -> builtins.list[str]:
        """The job's collected records, each one JSON text (``sage_client.remote.result_codec``)."""
        runtime = self.get(job_id)
        state = runtime.record.state
        if not runtime.request.collect_result:
            raise JobError(
                "precondition",
                f"job {job_id} was submitted without collect_result; resubmit with collect_result=True",
            )
        if state != kernel_pb2.JOB_STATE_SUCCEEDED:
            raise JobError(
                "precondition",
                f"job {job_id} is {kernel_pb2.JobState.Name(state)}; a result exists once it SUCCEEDED",
            )
        # JSON the worker wrote: the manager never unpickles what a job left behind
        try:
            body = json.loads(identity.read_worker_file(self.store.folder(job_id).result))
        except (OSError, ValueError) as exc:
            raise JobError("precondition", f"job {job_id} left no readable result: {exc}") from None
        if not isinstance(body, dict):
            raise JobError("precondition", f"job {job_id} left a malformed result")
        if "error" in body:
            raise JobError("precondition", f"job {job_id}: {body['error']}")
        records = body.get("records")
        if not isinstance(records, builtins.list) or not all(isinstance(r, str) for r in records):
            raise JobError("precondition", f"job {job_id} left a malformed result")
        return records

    def follow(
        self, job_id: str, follow: bool
    ) -> AsyncIterator[kernel_pb2.StreamJobEventsResponse]:
        """Yields the job's events from the start; with ``follow`` until the job has ended."""
        runtime = self.get(job_id)
        return runtime.events.follow(
            follow,
            lambda: runtime.record.final and (runtime.task is None or runtime.task.done()),
        )
