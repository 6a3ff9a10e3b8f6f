"""Configuration of the job manager."""

from __future__ import annotations

from pydantic import Field

from sage_runtime.config import ServiceConfig


class KernelConfig(ServiceConfig):
    submit_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="how long SubmitJob waits for the worker to load the graph",
    )
    cancel_grace_s: float = Field(
        default=5.0, ge=0, le=600, description="SIGTERM to SIGKILL delay when cancelling a worker"
    )
    poll_interval_s: float = Field(
        default=0.05,
        gt=0,
        le=5,
        description="how often workers' logs, metrics and exits are polled",
    )
    standby_workers: bool = Field(
        default=True, description="keep one pre-started worker per executor (faster first record)"
    )
    exit_wait_s: float = Field(
        default=0.2,
        ge=0,
        le=60,
        description="how long a worker that reported its outcome may take to exit",
    )
    worker_user: str = Field(
        default="sage-job",
        description="the unprivileged user job workers run as when the manager runs as root "
        "(created as a system user when missing, else nobody); empty: the manager's own user. "
        "A manager that is not root runs workers as itself",
    )
    max_jobs_listed: int = Field(
        default=1000, ge=1, le=100_000, description="largest ListJobs page"
    )
