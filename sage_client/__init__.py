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
    ResourceExhausted,
    SageError,
    Unauthenticated,
    Unavailable,
)
from sage_client.kv import AsyncKVClient, KVClient

__all__ = [
    *_dataflow_all,
    "AlreadyExists",
    "AsyncKVClient",
    "DeadlineExceeded",
    "FailedPrecondition",
    "InvalidArgument",
    "KVClient",
    "NotFound",
    "ResourceExhausted",
    "SageError",
    "Unauthenticated",
    "Unavailable",
]
