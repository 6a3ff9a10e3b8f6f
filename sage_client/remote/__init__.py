"""Running pipelines on the kernel job manager: ``RemoteEnvironment``, ``JobClient``, ``JobHandle``."""

from sage_client.remote.client import (
    AsyncJobClient,
    AsyncJobHandle,
    JobCancelled,
    JobClient,
    JobFailed,
    JobHandle,
    JobInfo,
    RestartPolicy,
)
from sage_client.remote.environment import RemoteEnvironment

__all__ = [
    "AsyncJobClient",
    "AsyncJobHandle",
    "JobCancelled",
    "JobClient",
    "JobFailed",
    "JobHandle",
    "JobInfo",
    "RemoteEnvironment",
    "RestartPolicy",
]
