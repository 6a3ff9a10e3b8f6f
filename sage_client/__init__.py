"""SAGE Mesh SDK: typed clients of the mesh services, discovery, and the DataStream API."""

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
