import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_PENDING: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_PAUSED: _ClassVar[JobState]
    JOB_STATE_RESTARTING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class Partitioning(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTITIONING_UNSPECIFIED: _ClassVar[Partitioning]
    PARTITIONING_HASH: _ClassVar[Partitioning]
    PARTITIONING_BROADCAST: _ClassVar[Partitioning]
    PARTITIONING_ROUND_ROBIN: _ClassVar[Partitioning]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_PENDING: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_PAUSED: JobState
JOB_STATE_RESTARTING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
PARTITIONING_UNSPECIFIED: Partitioning
PARTITIONING_HASH: Partitioning
PARTITIONING_BROADCAST: Partitioning
PARTITIONING_ROUND_ROBIN: Partitioning

class Operator(_message.Message):
    __slots__ = ("id", "kind", "name", "function", "parallelism")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    name: str
    function: bytes
    parallelism: int
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., function: _Optional[bytes] = ..., parallelism: _Optional[int] = ...) -> None: ...

class Edge(_message.Message):
    __slots__ = ("source_id", "target_id", "input_index", "partitioning", "feedback", "source_port")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    PARTITIONING_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PORT_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    target_id: str
    input_index: int
    partitioning: Partitioning
    feedback: bool
    source_port: int
    def __init__(self, source_id: _Optional[str] = ..., target_id: _Optional[str] = ..., input_index: _Optional[int] = ..., partitioning: _Optional[_Union[Partitioning, str]] = ..., feedback: _Optional[bool] = ..., source_port: _Optional[int] = ...) -> None: ...

class JobGraph(_message.Message):
    __slots__ = ("operators", "edges", "environment")
    OPERATORS_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    operators: _containers.RepeatedCompositeFieldContainer[Operator]
    edges: _containers.RepeatedCompositeFieldContainer[Edge]
    environment: bytes
    def __init__(self, operators: _Optional[_Iterable[_Union[Operator, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ..., environment: _Optional[bytes] = ...) -> None: ...

class RestartStrategy(_message.Message):
    __slots__ = ("none", "fixed_delay", "exponential_backoff")
    NONE_FIELD_NUMBER: _ClassVar[int]
    FIXED_DELAY_FIELD_NUMBER: _ClassVar[int]
    EXPONENTIAL_BACKOFF_FIELD_NUMBER: _ClassVar[int]
    none: NoRestart
    fixed_delay: FixedDelayRestart
    exponential_backoff: ExponentialBackoffRestart
    def __init__(self, none: _Optional[_Union[NoRestart, _Mapping]] = ..., fixed_delay: _Optional[_Union[FixedDelayRestart, _Mapping]] = ..., exponential_backoff: _Optional[_Union[ExponentialBackoffRestart, _Mapping]] = ...) -> None: ...

class NoRestart(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FixedDelayRestart(_message.Message):
    __slots__ = ("attempts", "delay_ms")
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    delay_ms: int
    def __init__(self, attempts: _Optional[int] = ..., delay_ms: _Optional[int] = ...) -> None: ...

class ExponentialBackoffRestart(_message.Message):
    __slots__ = ("attempts", "initial_delay_ms", "max_delay_ms", "multiplier")
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    initial_delay_ms: int
    max_delay_ms: int
    multiplier: float
    def __init__(self, attempts: _Optional[int] = ..., initial_delay_ms: _Optional[int] = ..., max_delay_ms: _Optional[int] = ..., multiplier: _Optional[float] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "name", "state", "executor", "error", "restart_count", "create_time", "end_time", "worker_pid", "checkpoint_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    WORKER_PID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    state: JobState
    executor: str
    error: str
    restart_count: int
    create_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    worker_pid: int
    checkpoint_count: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., executor: _Optional[str] = ..., error: _Optional[str] = ..., restart_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., worker_pid: _Optional[int] = ..., checkpoint_count: _Optional[int] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("name", "graph", "executor", "ray_address", "restart_strategy", "checkpoint_interval_ms", "collect_result")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    RAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RESTART_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    COLLECT_RESULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    graph: JobGraph
    executor: str
    ray_address: str
    restart_strategy: RestartStrategy
    checkpoint_interval_ms: int
    collect_result: bool
    def __init__(self, name: _Optional[str] = ..., graph: _Optional[_Union[JobGraph, _Mapping]] = ..., executor: _Optional[str] = ..., ray_address: _Optional[str] = ..., restart_strategy: _Optional[_Union[RestartStrategy, _Mapping]] = ..., checkpoint_interval_ms: _Optional[int] = ..., collect_result: _Optional[bool] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id", "include_graph")
    ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_GRAPH_FIELD_NUMBER: _ClassVar[int]
    id: str
    include_graph: bool
    def __init__(self, id: _Optional[str] = ..., include_graph: _Optional[bool] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job", "graph", "operator_metrics")
    JOB_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_METRICS_FIELD_NUMBER: _ClassVar[int]
    job: Job
    graph: JobGraph
    operator_metrics: _containers.RepeatedCompositeFieldContainer[OperatorMetrics]
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., graph: _Optional[_Union[JobGraph, _Mapping]] = ..., operator_metrics: _Optional[_Iterable[_Union[OperatorMetrics, _Mapping]]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("id", "force")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    force: bool
    def __init__(self, id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class PauseJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class PauseJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ResumeJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ResumeJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class StreamJobEventsRequest(_message.Message):
    __slots__ = ("id", "follow")
    ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    id: str
    follow: bool
    def __init__(self, id: _Optional[str] = ..., follow: _Optional[bool] = ...) -> None: ...

class OperatorMetrics(_message.Message):
    __slots__ = ("operator_id", "records_in", "records_out", "errors", "backlog")
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_IN_FIELD_NUMBER: _ClassVar[int]
    RECORDS_OUT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    BACKLOG_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    records_in: int
    records_out: int
    errors: int
    backlog: int
    def __init__(self, operator_id: _Optional[str] = ..., records_in: _Optional[int] = ..., records_out: _Optional[int] = ..., errors: _Optional[int] = ..., backlog: _Optional[int] = ...) -> None: ...

class StreamJobEventsResponse(_message.Message):
    __slots__ = ("time", "state", "log_line", "metrics")
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LOG_LINE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    state: JobState
    log_line: str
    metrics: OperatorMetrics
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., log_line: _Optional[str] = ..., metrics: _Optional[_Union[OperatorMetrics, _Mapping]] = ...) -> None: ...

class GetJobResultRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetJobResultResponse(_message.Message):
    __slots__ = ("records", "json_records")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    JSON_RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedScalarFieldContainer[bytes]
    json_records: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, records: _Optional[_Iterable[bytes]] = ..., json_records: _Optional[_Iterable[str]] = ...) -> None: ...
