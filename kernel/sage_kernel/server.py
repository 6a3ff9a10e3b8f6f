"""The JobService servicer: validates requests at the edge, maps manager refusals to statuses."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import AsyncIterator

import grpc

from sage_client.remote.graph_codec import check_structure
from sage_kernel.config import KernelConfig
from sage_kernel.manager import JobError, JobManager
from sage_kernel.restart import check_strategy
from sage_proto.common.v1 import common_pb2
from sage_proto.kernel.v1 import kernel_pb2, kernel_pb2_grpc
from sage_runtime import ServiceSpec
from sage_runtime import errors as err

EXECUTORS = ("local", "ray")
# A cluster's GCS address, a Ray Client address, or Ray's "auto" (the cluster `ray start` made here)
RAY_ADDRESS = re.compile(r"auto|(ray://)?[A-Za-z0-9.\-]{1,253}:\d{1,5}")
DEFAULT_PAGE = 100


def _failed_precondition(message: str) -> err.ServiceError:
    return err.ServiceError(
        grpc.StatusCode.FAILED_PRECONDITION, message, common_pb2.ERROR_REASON_UNSPECIFIED
    )


def _map(exc: JobError) -> err.ServiceError:
    if exc.kind == "not_found":
        return err.not_found(str(exc))
    if exc.kind == "invalid":
        return err.invalid_argument("graph", str(exc))
    return _failed_precondition(str(exc))


def _bearer(context: grpc.aio.ServicerContext) -> str:
    """The caller's bearer token: the job's worker calls mesh services with it, so a job
    acts with its submitter's rights, never the manager's."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            text = value if isinstance(value, str) else value.decode("latin-1")
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


class JobServicer(kernel_pb2_grpc.JobServiceServicer):
    def __init__(self, manager: JobManager, config: KernelConfig) -> None:
        self.manager = manager
        self.config = config

    def _id(self, job_id: str) -> str:
        if not job_id:
            raise err.invalid_argument("id", "id must name a job (`sage job ls` lists them)")
        return job_id

    def _job(self, job_id: str) -> kernel_pb2.Job:
        try:
            runtime = self.manager.get(self._id(job_id))
        except JobError as exc:
            raise _map(exc) from None
        return runtime.record.to_proto(runtime.checkpoints)

    async def SubmitJob(
        self, request: kernel_pb2.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> kernel_pb2.SubmitJobResponse:
        executor = request.executor or "local"
        if executor not in EXECUTORS:
            raise err.invalid_argument(
                "executor", f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}"
            )
        if executor == "ray" and importlib.util.find_spec("ray") is None:
            raise _failed_precondition(
                "the ray executor needs Ray next to the job manager: pip install 'sage-mesh[ray]'"
            )
        if request.ray_address and executor != "ray":
            raise err.invalid_argument(
                "ray_address", "ray_address is only used with executor 'ray'"
            )
        if request.ray_address and not RAY_ADDRESS.fullmatch(request.ray_address):
            raise err.invalid_argument(
                "ray_address",
                "ray_address is a cluster's GCS address HOST:PORT, a Ray Client address "
                f"ray://HOST:PORT, or auto; got {request.ray_address[:100]!r}",
            )
        if request.checkpoint_interval_ms < 0:
            raise err.invalid_argument(
                "checkpoint_interval_ms", "checkpoint_interval_ms must be >= 0 (0 disables)"
            )
        if request.checkpoint_interval_ms and executor == "ray":
            raise err.invalid_argument(
                "checkpoint_interval_ms",
                "checkpoints run on the local executor; on Ray use a restart strategy without "
                "checkpoints (the job replays from its start)",
            )
        try:
            check_structure(request.graph)
        except ValueError as exc:
            raise err.invalid_argument("graph", str(exc)) from None
        try:
            check_strategy(request.restart_strategy)
        except ValueError as exc:
            raise err.invalid_argument("restart_strategy", str(exc)) from None
        try:
            record = await self.manager.submit(request, token=_bearer(context))
        except JobError as exc:
            raise _map(exc) from None
        return kernel_pb2.SubmitJobResponse(job=self._job(record.id))

    async def GetJob(
        self, request: kernel_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> kernel_pb2.GetJobResponse:
        if not request.include_graph:
            return kernel_pb2.GetJobResponse(job=self._job(request.id))
        try:
            runtime = self.manager.get(self._id(request.id))
        except JobError as exc:
            raise _map(exc) from None
        graph = runtime.request.graph
        latest = runtime.files.latest
        return kernel_pb2.GetJobResponse(
            job=runtime.record.to_proto(runtime.checkpoints),
            graph=graph_shape(graph),
            operator_metrics=[latest[op.id] for op in graph.operators if op.id in latest],
        )

    async def ListJobs(
        self, request: kernel_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> kernel_pb2.ListJobsResponse:
        limit = self.config.max_jobs_listed
        if request.page_size < 0 or request.page_size > limit:
            raise err.invalid_argument(
                "page_size",
                f"page_size must be 0..{limit} (0 means {DEFAULT_PAGE}); got {request.page_size}",
            )
        try:
            records, token = self.manager.list(
                request.state, request.page_size or DEFAULT_PAGE, request.page_token
            )
        except JobError as exc:
            raise err.invalid_argument("page_token", str(exc)) from None
        jobs = [self._job(r.id) for r in records]
        return kernel_pb2.ListJobsResponse(jobs=jobs, next_page_token=token)

    async def CancelJob(
        self, request: kernel_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> kernel_pb2.CancelJobResponse:
        try:
            await self.manager.cancel(self._id(request.id))
        except JobError as exc:
            raise _map(exc) from None
        return kernel_pb2.CancelJobResponse(job=self._job(request.id))

    async def DeleteJob(
        self, request: kernel_pb2.DeleteJobRequest, context: grpc.aio.ServicerContext
    ) -> kernel_pb2.DeleteJobResponse:
        try:
            runtime = self.manager.get(self._id(request.id))
            checkpoints = runtime.checkpoints
            record = await self.manager.delete(request.id, request.force)
        except JobError as exc:
            raise _map(exc) from None
        return kernel_pb2.DeleteJobResponse(job=record.to_proto(checkpoints))

    async def PauseJob(
        self, request: kernel_pb2.PauseJobRequest, context: grpc.aio.ServicerContext
    ) -> kernel_pb2.PauseJobResponse:
        try:
            await self.manager.pause(self._id(request.id))
        except JobError as exc:
            raise _map(exc) from None
        return kernel_pb2.PauseJobResponse(job=self._job(request.id))

    async def ResumeJob(
        self, request: kernel_pb2.ResumeJobRequest, context: grpc.aio.ServicerContext
    ) -> kernel_pb2.ResumeJobResponse:
        try:
            await self.manager.resume(self._id(request.id))
        except JobError as exc:
            raise _map(exc) from None
        return kernel_pb2.ResumeJobResponse(job=self._job(request.id))

    async def StreamJobEvents(
        self, request: kernel_pb2.StreamJobEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[kernel_pb2.StreamJobEventsResponse]:
        try:
            events = self.manager.follow(self._id(request.id), request.follow)
            async for event in events:
                yield event
        except JobError as exc:
            raise _map(exc) from None

    async def GetJobResult(
        self, request: kernel_pb2.GetJobResultRequest, context: grpc.aio.ServicerContext
    ) -> kernel_pb2.GetJobResultResponse:
        try:
            records = self.manager.result(self._id(request.id))
        except JobError as exc:
            raise _map(exc) from None
        return kernel_pb2.GetJobResultResponse(json_records=records)


def build_spec(config: KernelConfig) -> ServiceSpec:
    manager = JobManager(config)

    def add(server: grpc.aio.Server) -> None:
        kernel_pb2_grpc.add_JobServiceServicer_to_server(JobServicer(manager, config), server)

    return ServiceSpec(
        name="kernel",
        service_names=(kernel_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,),
        add_servicers=add,
        start=manager.start,
        stop=manager.stop,
        metadata=lambda: {"jobs": len(manager.jobs)},
    )


def graph_shape(graph: kernel_pb2.JobGraph) -> kernel_pb2.JobGraph:
    """The operators and edges of a submitted graph without its functions or environment: what
    a reader of the job may see (the code stays with the job manager and its worker)."""
    return kernel_pb2.JobGraph(
        operators=[
            kernel_pb2.Operator(id=op.id, kind=op.kind, name=op.name, parallelism=op.parallelism)
            for op in graph.operators
        ],
        edges=list(graph.edges),
    )
