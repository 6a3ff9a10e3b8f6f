"""Task worker settings: the shared service settings plus the broker, the pool and what
tasks may reach (allow-listed modules, folders a bulk ingest may read)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sage_runtime.config import ServiceConfig


class TasksConfig(ServiceConfig):
    redis_url: str = Field(
        default="",
        description="the broker and result backend (the mesh's Redis); a URL without a "
        "password gets the `tasks` ACL user's from the secrets file",
    )
    concurrency: int = Field(default=2, ge=1, le=256, description="tasks run at once")
    pool: Literal["prefork", "solo", "threads"] = Field(
        default="prefork",
        description="prefork: each task in a child process (a crash loses the child only)",
    )
    allowed_modules: list[str] = Field(
        default_factory=list,
        description="modules (or packages, with their submodules) whose functions "
        "`sage.run_function` may call; empty: none",
    )
    ingest_roots: list[str] = Field(
        default_factory=list,
        description="folders `sage.ingest_folder` may read (with their subfolders); "
        "empty: the worker's working directory",
    )
    visibility_timeout_s: int = Field(
        default=3600,
        ge=1,
        description="a task taken by a worker that vanished is given to another after this; "
        "longer tasks need a longer one (or they run twice)",
    )
    crash_retries: int = Field(
        default=3,
        ge=0,
        le=100,
        description="how often a task whose worker died under it is run again before it fails",
    )
