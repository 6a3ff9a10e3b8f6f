"""The job state machine: one supervisor task per job runs its worker, watches it until it
exits, and moves the record on — PENDING/RESTARTING -> RUNNING once the worker has loaded the
graph, then SUCCEEDED, FAILED or CANCELLED from the worker's outcome, or RESTARTING after the
delay its restart strategy gives. Every state change is saved, logged as an event, and wakes
followers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import time

from sage_kernel import identity
from sage_kernel.config import KernelConfig
from sage_kernel.job_runtime import JobRuntime
from sage_kernel.restart import next_delay
from sage_kernel.standby import StandbyPool
from sage_kernel.store import JobStore
from sage_kernel.worker_process import WorkerProcess, describe_exit, worker_argv
from sage_proto.kernel.v1 import kernel_pb2

log = logging.getLogger("sage.kernel")


class Supervisor:
    def __init__(self, config: KernelConfig, store: JobStore, standby: StandbyPool) -> None:
        self.config = config
        self.store = store
        self.standby = standby
        self.worker_identity: identity.WorkerIdentity | None = None

    def set_state(self, runtime: JobRuntime, state: int, error: str = "") -> None:
        record = runtime.record
        record.state = state
        if error:
            record.error = error
        if record.final:
            record.end_time = time.time()
            record.worker_pid = 0
        self.store.save(record)
        runtime.events.emit(state=state)
        asyncio.ensure_future(runtime.events.notify())

    async def spawn(self, runtime: JobRuntime) -> WorkerProcess:
        folder = runtime.folder
        folder.clear_run()
        identity.prepare_job_folder(folder, self.worker_identity)
        job_id = runtime.record.id  # workers run in the jobs folder: paths relative to it
        kind = (runtime.record.executor, runtime.request.ray_address)
        worker = self.standby.hand_over(kind, job_id, runtime.token)
        if worker is not None:
            return worker
        with folder.log.open("ab") as logfile:
            proc = subprocess.Popen(
                worker_argv(self.worker_identity, job_id),
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                start_new_session=True,  # its own process group: outlives a manager restart
                env=identity.worker_env(runtime.token, self.worker_identity),
                cwd=self.store.root,
            )
        return WorkerProcess(proc.pid, proc)

    async def watch(self, runtime: JobRuntime, worker: WorkerProcess) -> int | None:
        """Polls logs, metrics and the ``loaded`` marker until the worker exits."""
        files = runtime.files
        poll = self.config.poll_interval_s
        waiter = asyncio.ensure_future(worker.wait(poll))
        while True:
            done, _ = await asyncio.wait([waiter], timeout=poll)
            files.poll()
            if not runtime.loaded.is_set() and files.loaded():
                runtime.loaded.set()
                if runtime.record.state in (
                    kernel_pb2.JOB_STATE_PENDING,
                    kernel_pb2.JOB_STATE_RESTARTING,
                ):
                    self.set_state(runtime, kernel_pb2.JOB_STATE_RUNNING)
            if not done and files.reported():
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
                files.poll()
                return waiter.result() if waiter.done() else None
            await runtime.events.notify()

    async def run(self, runtime: JobRuntime, reattached: bool) -> None:
        """The job's supervisor task, until the job is final (or the manager stops)."""
        record = runtime.record
        # re-attached without a live worker: it ended while no manager watched; judge its outcome
        ended_unwatched = reattached and runtime.worker is None
        try:
            while True:
                if runtime.cancel_requested:
                    self.set_state(runtime, kernel_pb2.JOB_STATE_CANCELLED)
                    return
                code: int | None = None
                if ended_unwatched:
                    ended_unwatched = False
                else:
                    if runtime.worker is None:
                        runtime.loaded.clear()
                        runtime.worker = await self.spawn(runtime)
                        record.worker_pid = runtime.worker.pid
                        self.store.save(record)
                    code = await self.watch(runtime, runtime.worker)
                runtime.worker = None
                outcome = runtime.files.outcome()
                state = outcome.get("state")
                if runtime.cancel_requested or state == "cancelled":
                    self.set_state(runtime, kernel_pb2.JOB_STATE_CANCELLED)
                    return
                if state == "succeeded":
                    self.set_state(runtime, kernel_pb2.JOB_STATE_SUCCEEDED)
                    return
                if state == "unloadable":
                    self.set_state(runtime, kernel_pb2.JOB_STATE_FAILED, outcome["error"])
                    return
                error = outcome.get("error") or describe_exit(code)
                delay = next_delay(runtime.request.restart_strategy, record.restart_count)
                if delay is None:
                    self.set_state(runtime, kernel_pb2.JOB_STATE_FAILED, error)
                    return
                record.restart_count += 1
                record.error = error
                self.set_state(runtime, kernel_pb2.JOB_STATE_RESTARTING)
                runtime.events.emit(
                    log_line=f"[sage] worker failed; restart {record.restart_count} in {delay:.3f} s",
                )
                changed = runtime.events.changed
                async with changed:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(
                            changed.wait_for(lambda: runtime.cancel_requested), delay
                        )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a supervisor bug must not leave a job hanging
            log.exception("job %s: supervisor failed", record.id)
            self.set_state(runtime, kernel_pb2.JOB_STATE_FAILED, f"job manager error: {exc!r}")
