"""The job manager: owns job records, starts and watches worker processes, applies restart
strategies, and fans events out to followers. gRPC-free (the servicer maps its errors)."""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from google.protobuf import timestamp_pb2

from sage_kernel import identity
from sage_kernel.config import KernelConfig
from sage_kernel.job_folder import JobFolder
from sage_kernel.restart import next_delay
from sage_kernel.store import JobRecord, JobStore
from sage_proto.kernel.v1 import kernel_pb2

log = logging.getLogger("sage.kernel")

EVENT_HISTORY = 100_000  # events kept per job for late followers (log lines dominate)


class JobError(Exception):
    """A request the manager refuses; ``kind`` picks the status (not_found, precondition...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Worker:
    """A worker process: a child we spawned, or one re-attached by pid after a manager restart."""

    def __init__(self, pid: int, proc: subprocess.Popen[bytes] | None) -> None:
        self.pid = pid
        self.proc = proc

    async def wait(self, poll: float) -> int | None:
        if self.proc is not None:
            while self.proc.poll() is None:
                await asyncio.sleep(poll)
            return self.proc.returncode
        while _alive(self.pid):
            await asyncio.sleep(poll)
        return None  # not our child: the exit code is lost, outcome.json tells what happened

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_worker_of(pid: int, folder: JobFolder) -> bool:
    """Guards against pid reuse: a live worker process that wrote this pid into the job folder."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        recorded = int(folder.pid.read_text())
    except (OSError, ValueError):
        return False
    return b"sage_kernel.worker" in cmdline and recorded == pid and _alive(pid)


class JobRuntime:
    """In-memory companion of a record: its worker, events and followers."""

    def __init__(self, record: JobRecord, request: kernel_pb2.SubmitJobRequest) -> None:
        self.record = record
        self.request = request
        self.worker: _Worker | None = None
        self.events: collections.deque[kernel_pb2.StreamJobEventsResponse] = collections.deque(
            maxlen=EVENT_HISTORY
        )
        self.dropped = 0  # events fallen out of the history, so followers can keep their place
        self.changed = asyncio.Condition()
        self.cancel_requested = False
        self.loaded = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.log_offset = 0
        self.metrics_mtime = 0.0
        self.checkpoints = 0
        self.token = ""  # the submitter's bearer token: the worker calls services with it


class JobManager:
    def __init__(self, config: KernelConfig) -> None:
        self.config = config
        self.store = JobStore(config.data_dir)
        self.jobs: dict[str, JobRuntime] = {}
        self._seq = 0
        # pre-started workers per executor: a job's first record does not wait for imports
        self._standby: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self.worker_identity: identity.WorkerIdentity | None = None

    def _worker_argv(self, *args: str) -> list[str]:
        """How every worker starts: as the worker user when the manager is root (``cwd``, the
        jobs folder, is entered before the switch)."""
        argv = [sys.executable, "-u", "-m", "sage_kernel.worker", *args]
        return self.worker_identity.argv(argv) if self.worker_identity is not None else argv

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
            runtime = JobRuntime(record, request)
            with contextlib.suppress(OSError):
                runtime.token = folder.token.read_text().strip()
            self.jobs[record.id] = runtime
            self._replay_history(runtime)
            if record.final:
                continue
            if record.worker_pid and _is_worker_of(record.worker_pid, folder):
                log.info("job %s: re-attaching to worker pid %d", record.id, record.worker_pid)
                runtime.worker = _Worker(record.worker_pid, None)
                runtime.loaded.set()
            runtime.task = asyncio.create_task(self._supervise(runtime, reattached=True))
        await self._start_standby(("local", ""))

    async def stop(self) -> None:
        """The manager goes away; workers keep running and the next manager re-attaches."""
        await self._stop_standbys()
        for runtime in self.jobs.values():
            if runtime.task is not None:
                runtime.task.cancel()
        for runtime in self.jobs.values():
            if runtime.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await runtime.task

    def _replay_history(self, runtime: JobRuntime) -> None:
        self._emit(runtime, state=runtime.record.state)
        self._poll_logs(runtime)

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
        runtime = JobRuntime(record, request)
        runtime.token = token
        self.jobs[record.id] = runtime
        self._emit(runtime, state=record.state)
        runtime.task = asyncio.create_task(self._supervise(runtime, reattached=False))
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
            outcome = self._read_outcome(runtime)
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
        async with runtime.changed:  # wake a supervisor sleeping before a restart
            runtime.changed.notify_all()
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
        self._set_state(runtime, kernel_pb2.JOB_STATE_PAUSED)
        return runtime.record

    async def resume(self, job_id: str) -> JobRecord:
        runtime = self.get(job_id)
        if runtime.record.state != kernel_pb2.JOB_STATE_PAUSED or runtime.worker is None:
            raise JobError(
                "precondition",
                f"job {job_id} is {kernel_pb2.JobState.Name(runtime.record.state)}; only PAUSED jobs resume",
            )
        runtime.worker.signal_group(signal.SIGCONT)
        self._set_state(runtime, kernel_pb2.JOB_STATE_RUNNING)
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

    # -- events ---------------------------------------------------------------------------
    def _emit(self, runtime: JobRuntime, **event: Any) -> None:
        stamp = timestamp_pb2.Timestamp()
        stamp.GetCurrentTime()
        if len(runtime.events) == runtime.events.maxlen:
            runtime.dropped += 1
        runtime.events.append(kernel_pb2.StreamJobEventsResponse(time=stamp, **event))

    async def _notify(self, runtime: JobRuntime) -> None:
        async with runtime.changed:
            runtime.changed.notify_all()

    async def follow(self, job_id: str, follow: bool) -> Any:
        """Yields the job's events from the start; with ``follow`` until the job has ended."""
        runtime = self.get(job_id)
        position = runtime.dropped  # absolute event index; events[0] is number ``dropped``
        while True:
            while position < runtime.dropped + len(runtime.events):
                position = max(position, runtime.dropped)
                event = runtime.events[position - runtime.dropped]
                position += 1
                yield event
            if not follow or (
                runtime.record.final and (runtime.task is None or runtime.task.done())
            ):
                return
            async with runtime.changed:
                if position >= runtime.dropped + len(runtime.events):
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(runtime.changed.wait(), 1.0)

    def _set_state(self, runtime: JobRuntime, state: int, error: str = "") -> None:
        record = runtime.record
        record.state = state
        if error:
            record.error = error
        if record.final:
            record.end_time = time.time()
            record.worker_pid = 0
        self.store.save(record)
        self._emit(runtime, state=state)
        asyncio.ensure_future(self._notify(runtime))

    def _poll_logs(self, runtime: JobRuntime) -> None:
        path = self.store.folder(runtime.record.id).log
        try:
            with path.open("rb") as f:
                f.seek(runtime.log_offset)
                chunk = f.read()
        except OSError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        runtime.log_offset += end + 1
        for line in chunk[:end].split(b"\n"):
            self._emit(runtime, log_line=line.decode("utf-8", "replace"))

    def _poll_metrics(self, runtime: JobRuntime) -> None:
        path = self.store.folder(runtime.record.id).metrics
        try:
            mtime = path.stat().st_mtime
            if mtime == runtime.metrics_mtime:
                return
            runtime.metrics_mtime = mtime
            metrics = json.loads(identity.read_worker_file(path, 1 << 24))
            operators = [kernel_pb2.OperatorMetrics(**op) for op in metrics.get("operators", [])]
            checkpoints = int(metrics.get("checkpoints", runtime.checkpoints))
        except (OSError, ValueError, TypeError, AttributeError):
            return  # the worker's file: a job that writes nonsense there loses its metrics
        for op in operators:
            self._emit(runtime, metrics=op)
        runtime.checkpoints = checkpoints

    # -- supervision ----------------------------------------------------------------------
    # Workers are plain Popen children, not asyncio subprocesses: asyncio kills a child still
    # running when its transport closes (manager shutdown), and a worker must outlive it.
    async def _start_standby(self, kind: tuple[str, str]) -> None:
        """``kind``: (executor, ray address); a Ray standby connects and starts actors early."""
        if not self.config.standby_workers or kind in self._standby:
            return
        self._standby[kind] = subprocess.Popen(
            self._worker_argv("--standby", *kind),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=identity.worker_env(
                "", self.worker_identity
            ),  # its job's token comes on stdin with the job
            cwd=self.store.root,
        )

    async def _stop_standbys(self) -> None:
        # a standby holds no job: no need to wait for its imports to finish before it goes
        for proc in self._standby.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self._standby.values():
            await asyncio.to_thread(proc.wait, 5)
        self._standby.clear()

    async def _spawn(self, runtime: JobRuntime) -> _Worker:
        folder = self.store.folder(runtime.record.id)
        folder.clear_run()
        identity.prepare_job_folder(folder, self.worker_identity)
        job_id = runtime.record.id  # workers run in the jobs folder: paths relative to it
        kind = (runtime.record.executor, runtime.request.ray_address)
        proc = self._standby.pop(kind, None)
        asyncio.get_running_loop().call_soon(
            lambda: asyncio.ensure_future(self._start_standby(kind))
        )
        if proc is not None and proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.write(f"{job_id}\n{runtime.token}\n".encode())
                proc.stdin.close()
                return _Worker(proc.pid, proc)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the standby died: start one the slow way
        with folder.log.open("ab") as logfile:
            proc = subprocess.Popen(
                self._worker_argv(job_id),
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                start_new_session=True,  # its own process group: outlives a manager restart
                env=identity.worker_env(runtime.token, self.worker_identity),
                cwd=self.store.root,
            )
        return _Worker(proc.pid, proc)

    def _read_outcome(self, runtime: JobRuntime) -> dict[str, str]:
        path = self.store.folder(runtime.record.id).outcome
        try:
            return dict(json.loads(identity.read_worker_file(path, 1 << 24)))
        except (OSError, ValueError):
            return {}

    async def _watch(self, runtime: JobRuntime, worker: _Worker) -> int | None:
        """Polls logs, metrics and the ``loaded`` marker until the worker exits."""
        folder = self.store.folder(runtime.record.id)
        poll = self.config.poll_interval_s
        waiter = asyncio.ensure_future(worker.wait(poll))
        while True:
            done, _ = await asyncio.wait([waiter], timeout=poll)
            self._poll_logs(runtime)
            self._poll_metrics(runtime)
            if not runtime.loaded.is_set() and folder.loaded.exists():
                runtime.loaded.set()
                if runtime.record.state in (
                    kernel_pb2.JOB_STATE_PENDING,
                    kernel_pb2.JOB_STATE_RESTARTING,
                ):
                    self._set_state(runtime, kernel_pb2.JOB_STATE_RUNNING)
            if not done and folder.outcome.exists():
                # the worker has reported; its exit (Ray disconnect, interpreter teardown) may
                # take a while and need not hold the job's final state back
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(waiter), self.config.exit_wait_s)
                if not waiter.done():
                    asyncio.get_running_loop().call_later(
                        self.config.cancel_grace_s, worker.signal_group, signal.SIGKILL
                    )
                    done = {waiter}
            if done:
                await asyncio.sleep(0)  # let the log file settle, then take the rest
                self._poll_logs(runtime)
                self._poll_metrics(runtime)
                return waiter.result() if waiter.done() else None
            await self._notify(runtime)

    async def _supervise(self, runtime: JobRuntime, reattached: bool) -> None:
        record = runtime.record
        # re-attached without a live worker: it ended while no manager watched; judge its outcome
        ended_unwatched = reattached and runtime.worker is None
        try:
            while True:
                if runtime.cancel_requested:
                    self._set_state(runtime, kernel_pb2.JOB_STATE_CANCELLED)
                    return
                code: int | None = None
                if ended_unwatched:
                    ended_unwatched = False
                else:
                    if runtime.worker is None:
                        runtime.loaded.clear()
                        runtime.worker = await self._spawn(runtime)
                        record.worker_pid = runtime.worker.pid
                        self.store.save(record)
                    code = await self._watch(runtime, runtime.worker)
                runtime.worker = None
                outcome = self._read_outcome(runtime)
                state = outcome.get("state")
                if runtime.cancel_requested or state == "cancelled":
                    self._set_state(runtime, kernel_pb2.JOB_STATE_CANCELLED)
                    return
                if state == "succeeded":
                    self._set_state(runtime, kernel_pb2.JOB_STATE_SUCCEEDED)
                    return
                if state == "unloadable":
                    self._set_state(runtime, kernel_pb2.JOB_STATE_FAILED, outcome["error"])
                    return
                error = outcome.get("error") or _describe_exit(code)
                delay = next_delay(runtime.request.restart_strategy, record.restart_count)
                if delay is None:
                    self._set_state(runtime, kernel_pb2.JOB_STATE_FAILED, error)
                    return
                record.restart_count += 1
                record.error = error
                self._set_state(runtime, kernel_pb2.JOB_STATE_RESTARTING)
                self._emit(
                    runtime,
                    log_line=f"[sage] worker failed; restart {record.restart_count} in {delay:.3f} s",
                )
                async with runtime.changed:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(
                            runtime.changed.wait_for(lambda: runtime.cancel_requested), delay
                        )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a supervisor bug must not leave a job hanging
            log.exception("job %s: supervisor failed", record.id)
            self._set_state(runtime, kernel_pb2.JOB_STATE_FAILED, f"job manager error: {exc!r}")


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the worker process ended without an outcome (killed while the manager was down?)"
    if code < 0:
        return f"the worker process was killed by signal {signal.Signals(-code).name}"
    return f"the worker process exited with code {code} without reporting an outcome"
