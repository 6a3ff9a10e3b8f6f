"""SAGE Mesh SDK: typed clients of the mesh services, discovery, and the DataStream API."""

# DataStream API (SAGE's names): `from sage_client import LocalEnvironment, MapFunction, ...`
from sage_client.dataflow import *  # noqa: F403
from sage_client.dataflow import __all__ as _dataflow_all
from sage_client.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    SageError,
    Unauthenticated,
    Unavailable,
)
from sage_client.kv import AsyncKVClient, KVClient
from sage_client.memory import AsyncMemoryClient, MemoryClient
from sage_client.memory_seed import LocalMemoryService, MeshMemoryService
from sage_client.rag import *  # noqa: F403  (RAG and agent operators)
from sage_client.rag import __all__ as _rag_all
from sage_client.remote import (
    AsyncJobClient,
    JobClient,
    JobFailed,
    JobHandle,
    RemoteEnvironment,
    RestartPolicy,
)
from sage_client.services import resolve_seed_service
from sage_client.tsdb import AsyncTSDBClient, TSDBClient
from sage_client.tsdb_api import SageTSDB, SageTSDBService  # registers "tsdb_service"
from sage_client.vdb import AsyncVDBClient, VDBClient

__all__ = [
    *_dataflow_all,
    *_rag_all,
    "AlreadyExists",
    "AsyncJobClient",
    "AsyncKVClient",
    "AsyncMemoryClient",
    "AsyncTSDBClient",
    "AsyncVDBClient",
    "DeadlineExceeded",
    "FailedPrecondition",
    "InvalidArgument",
    "JobClient",
    "JobFailed",
    "JobHandle",
    "KVClient",
    "LocalMemoryService",
    "MemoryClient",
    "MeshMemoryService",
    "NotFound",
    "RemoteEnvironment",
    "ResourceExhausted",
    "RestartPolicy",
    "SageError",
    "SageTSDB",
    "SageTSDBService",
    "TSDBClient",
    "PermissionDenied",
    "Unauthenticated",
    "Unavailable",
    "VDBClient",
    "resolve_seed_service",
]
