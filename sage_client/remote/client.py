"""``JobClient`` (blocking client of ``sage.kernel.v1.JobService``) and ``JobHandle``; their asyncio
twins ``AsyncJobClient`` and ``AsyncJobHandle``. Both clients derive from one definition of each
method (``_JobCalls``; see ``sage_client.calls``).

jobs = JobClient()                         # SAGE_KERNEL_ADDR or etcd discovery
handle = jobs.submit(env.graph, collect_result=True)
handle.wait()                              # raises JobFailed with the remote traceback
handle.result()                            # the records that reached the sinks
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sage_client.calls import (
    Pages,
    Stream,
    Unary,
    awaited,
    awaited_pages,
    awaited_stream,
    blocking,
    blocking_pages,
    blocking_stream,
)
from sage_client.client_base import AsyncClient, BlockingClient
from sage_client.dataflow.api import graph as g
from sage_client.dataflow.restart import RestartPolicy
from sage_client.discovery import Resolver
from sage_client.errors import InvalidArgument, SageError
from sage_client.remote.graph_codec import GraphEncodingError, encode_graph
from sage_client.remote.result_codec import decode_record
from sage_proto.kernel.v1 import kernel_pb2, kernel_pb2_grpc

STATES = {
    name.removeprefix("JOB_STATE_").lower(): value
    for name, value in kernel_pb2.JobState.items()
    if value
}
FINAL = frozenset({"succeeded", "failed", "cancelled"})


class JobFailed(SageError):
    """A job ended FAILED; the message holds the remote traceback."""


class JobCancelled(SageError):
    """A job that was being waited for was cancelled."""


@dataclass(frozen=True)
class JobInfo:
    id: str
    name: str
    state: str  # pending, running, paused, restarting, succeeded, failed, cancelled
    executor: str
    error: str
    restart_count: int
    worker_pid: int
    checkpoint_count: int
    create_time: float
    end_time: float

    @property
    def done(self) -> bool:
        return self.state in FINAL


def _info(job: kernel_pb2.Job) -> JobInfo:
    return JobInfo(
        id=job.id,
        name=job.name,
        state=kernel_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower(),
        executor=job.executor,
        error=job.error,
        restart_count=job.restart_count,
        worker_pid=job.worker_pid,
        checkpoint_count=job.checkpoint_count,
        create_time=job.create_time.ToNanoseconds() / 1e9,
        end_time=job.end_time.ToNanoseconds() / 1e9 if job.HasField("end_time") else 0.0,
    )


@dataclass(frozen=True)
class OperatorView:
    """One operator of a submitted job, with its latest counters (0 before its first report)."""

    id: str
    kind: str
    name: str
    parallelism: int
    records_in: int = 0
    records_out: int = 0
    errors: int = 0
    backlog: int = 0


@dataclass(frozen=True)
class EdgeView:
    source: str
    target: str
    partitioning: str  # forward, hash, broadcast, round_robin
    feedback: bool


@dataclass(frozen=True)
class JobGraphView:
    """A job's DAG as the job manager holds it (never its functions), with live counters."""

    job: JobInfo
    operators: builtins.list[OperatorView]
    edges: builtins.list[EdgeView]


_PARTITIONING = {
    value: name.removeprefix("PARTITIONING_").lower()
    for name, value in kernel_pb2.Partitioning.items()
    if value
}  # 0 (unspecified) is forward


def _graph_of(reply: kernel_pb2.GetJobResponse) -> JobGraphView:
    counters = {m.operator_id: m for m in reply.operator_metrics}
    operators = []
    for op in reply.graph.operators:
        m = counters.get(op.id)
        operators.append(
            OperatorView(
                op.id,
                op.kind,
                op.name,
                op.parallelism,
                *((m.records_in, m.records_out, m.errors, m.backlog) if m else ()),
            )
        )
    edges = [
        EdgeView(
            e.source_id,
            e.target_id,
            _PARTITIONING.get(e.partitioning, "forward"),
            e.feedback,
        )
        for e in reply.graph.edges
    ]
    return JobGraphView(_info(reply.job), operators, edges)


H = TypeVar("H")


class _JobCalls(Generic[H]):
    """Every job manager method, written once: its request and how its reply decodes."""

    def _handle(self, job_id: str) -> H:
        raise NotImplementedError

    def _submit(
        self,
        graph: g.LogicalGraph,
        *,
        executor: str = "local",
        ray_address: str = "",
        restart: RestartPolicy | None = None,
        checkpoint_interval_s: float = 0.0,
        collect_result: bool = False,
    ) -> Unary[H]:
        """Send the pipeline; returns once the worker has loaded it (bad code raises here)."""
        try:
            encoded = encode_graph(graph)
        except GraphEncodingError as exc:
            raise InvalidArgument(str(exc), field="graph") from exc
        request = kernel_pb2.SubmitJobRequest(
            name=graph.name,
            graph=encoded,
            executor=executor,
            ray_address=ray_address,
            restart_strategy=(restart or RestartPolicy()).to_proto(),
            checkpoint_interval_ms=int(checkpoint_interval_s * 1000),
            collect_result=collect_result,
        )
        return Unary("SubmitJob", request, False, lambda reply: self._handle(reply.job.id))

    def _get(self, job_id: str) -> Unary[JobInfo]:
        return Unary("GetJob", kernel_pb2.GetJobRequest(id=job_id), True, _info_of)

    def _graph(self, job_id: str) -> Unary[JobGraphView]:
        """The job's DAG (operators, edges) with each operator's latest counters."""
        request = kernel_pb2.GetJobRequest(id=job_id, include_graph=True)
        return Unary("GetJob", request, True, _graph_of)

    def _list(self, state: str | None = None, page_size: int = 100) -> Pages[JobInfo]:
        """Every job, newest first, optionally only those in ``state`` (e.g. "running")."""
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {sorted(STATES)}; got {state!r}")
        return Pages(
            "ListJobs",
            lambda token: kernel_pb2.ListJobsRequest(
                state=STATES[state] if state else 0,  # type: ignore[arg-type]
                page_size=page_size,
                page_token=token,
            ),
            lambda reply: (_info(j) for j in reply.jobs),
        )

    def _cancel(self, job_id: str) -> Unary[JobInfo]:
        return Unary("CancelJob", kernel_pb2.CancelJobRequest(id=job_id), True, _info_of)

    def _pause(self, job_id: str) -> Unary[JobInfo]:
        return Unary("PauseJob", kernel_pb2.PauseJobRequest(id=job_id), True, _info_of)

    def _resume(self, job_id: str) -> Unary[JobInfo]:
        return Unary("ResumeJob", kernel_pb2.ResumeJobRequest(id=job_id), True, _info_of)

    def _delete(self, job_id: str, force: bool = False) -> Unary[JobInfo]:
        """Forget a finished job (``force``: cancel it first); the job as it ended."""
        request = kernel_pb2.DeleteJobRequest(id=job_id, force=force)
        return Unary("DeleteJob", request, False, _info_of)

    def _events(
        self, job_id: str, follow: bool = True
    ) -> Stream[kernel_pb2.StreamJobEventsResponse]:
        """The job's events from its start: state changes, log lines, operator metrics."""
        return Stream(
            "StreamJobEvents",
            kernel_pb2.StreamJobEventsRequest(id=job_id, follow=follow),
            lambda event: (event,),
            timeout=None,
        )

    def _result(self, job_id: str) -> Unary[builtins.list[Any]]:
        """The records that reached the sinks, decoded from JSON: nothing the server sends
        is ever unpickled here (see ``sage_client.remote.result_codec``)."""

        def decode(response: kernel_pb2.GetJobResultResponse) -> builtins.list[Any]:
            if response.records and not response.json_records:
                raise SageError(
                    f"job {job_id}: the job manager sent pickled records, which this client does "
                    "not unpickle (code from the server would run here); upgrade the job manager"
                )
            return [decode_record(r) for r in response.json_records]

        return Unary("GetJobResult", kernel_pb2.GetJobResultRequest(id=job_id), True, decode)


def _info_of(reply: Any) -> JobInfo:
    return _info(reply.job)


class JobClient(BlockingClient, _JobCalls["JobHandle"]):
    """Blocking client of the job manager."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 120.0,
    ) -> None:
        self._connect("kernel", kernel_pb2_grpc.JobServiceStub, address, resolver, token, timeout)

    def _handle(self, job_id: str) -> JobHandle:
        return JobHandle(self, job_id)

    submit = blocking(_JobCalls["JobHandle"]._submit)
    get = blocking(_JobCalls._get)
    graph = blocking(_JobCalls._graph)
    cancel = blocking(_JobCalls._cancel)
    pause = blocking(_JobCalls._pause)
    resume = blocking(_JobCalls._resume)
    delete = blocking(_JobCalls._delete)
    events = blocking_stream(_JobCalls._events)
    result = blocking(_JobCalls._result)

    list = blocking_pages(_JobCalls._list)  # last: the name shadows the builtin in this class


class AsyncJobClient(AsyncClient, _JobCalls["AsyncJobHandle"]):
    """asyncio client of the job manager; same methods as JobClient, awaited (``list`` and
    ``events`` are async iterators). Create it inside the event loop that uses it."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 120.0,
    ) -> None:
        self._connect("kernel", kernel_pb2_grpc.JobServiceStub, address, resolver, token, timeout)

    def _handle(self, job_id: str) -> AsyncJobHandle:
        return AsyncJobHandle(self, job_id)

    submit = awaited(_JobCalls["AsyncJobHandle"]._submit)
    get = awaited(_JobCalls._get)
    graph = awaited(_JobCalls._graph)
    cancel = awaited(_JobCalls._cancel)
    pause = awaited(_JobCalls._pause)
    resume = awaited(_JobCalls._resume)
    delete = awaited(_JobCalls._delete)
    events = awaited_stream(_JobCalls._events)
    result = awaited(_JobCalls._result)

    list = awaited_pages(_JobCalls._list)  # last: the name shadows the builtin in this class


class JobHandle:
    """A submitted job: ``status()``, ``wait()``, ``cancel()``, ``logs()``, ``result()``."""

    def __init__(self, client: JobClient, job_id: str) -> None:
        self.client = client
        self.id = job_id

    def __repr__(self) -> str:
        return f"JobHandle({self.id!r})"

    def status(self) -> JobInfo:
        return self.client.get(self.id)

    def logs(self, follow: bool = True) -> Iterator[str]:
        """The worker's log lines (stdout/stderr) from the start; ``follow`` streams until it ends."""
        for event in self.client.events(self.id, follow=follow):
            if event.WhichOneof("event") == "log_line":
                yield event.log_line

    def wait(self, timeout: float | None = None, poll_s: float = 0.1) -> JobInfo:
        """Block until the job ends; raises JobFailed (remote traceback) or JobCancelled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.status()
            if _finished(info, deadline, timeout):
                return _raise_unless_succeeded(info)
            time.sleep(poll_s)

    def cancel(self) -> JobInfo:
        return self.client.cancel(self.id)

    def pause(self) -> JobInfo:
        return self.client.pause(self.id)

    def resume(self) -> JobInfo:
        return self.client.resume(self.id)

    def result(self) -> list[Any]:
        """The records that reached the sinks (submitted with collect_result=True)."""
        return self.client.result(self.id)


class AsyncJobHandle:
    """A job submitted through ``AsyncJobClient``: JobHandle's methods, awaited."""

    def __init__(self, client: AsyncJobClient, job_id: str) -> None:
        self.client = client
        self.id = job_id

    def __repr__(self) -> str:
        return f"AsyncJobHandle({self.id!r})"

    async def status(self) -> JobInfo:
        return await self.client.get(self.id)

    async def logs(self, follow: bool = True) -> AsyncIterator[str]:
        async for event in self.client.events(self.id, follow=follow):
            if event.WhichOneof("event") == "log_line":
                yield event.log_line

    async def wait(self, timeout: float | None = None, poll_s: float = 0.1) -> JobInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = await self.status()
            if _finished(info, deadline, timeout):
                return _raise_unless_succeeded(info)
            await asyncio.sleep(poll_s)

    async def cancel(self) -> JobInfo:
        return await self.client.cancel(self.id)

    async def pause(self) -> JobInfo:
        return await self.client.pause(self.id)

    async def resume(self) -> JobInfo:
        return await self.client.resume(self.id)

    async def result(self) -> list[Any]:
        return await self.client.result(self.id)


def _finished(info: JobInfo, deadline: float | None, timeout: float | None) -> bool:
    """Whether a wait ends with ``info``; raises TimeoutError past ``deadline``."""
    if info.done:
        return True
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"job {info.id} is still {info.state} after {timeout} s")
    return False


def _raise_unless_succeeded(info: JobInfo) -> JobInfo:
    if info.state == "failed":
        raise JobFailed(f"job {info.id} ({info.name}) failed:\n{info.error}")
    if info.state == "cancelled":
        raise JobCancelled(f"job {info.id} ({info.name}) was cancelled")
    return info
