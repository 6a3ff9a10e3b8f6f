"""Run an unchanged DataStream program on the job manager: ``LocalEnvironment`` is swapped for a
``RemoteEnvironment`` while the script runs as ``__main__`` (what ``sage job submit`` does)."""

from __future__ import annotations

import functools
import runpy
import sys
from pathlib import Path
from typing import Any

import sage_client
import sage_client.dataflow
from sage_client.remote.client import JobHandle
from sage_client.remote.environment import RemoteEnvironment


def run_script(path: str | Path, args: list[str] | None = None, **remote: Any) -> list[JobHandle]:
    """Run ``path`` as ``__main__`` with every ``LocalEnvironment`` it creates made remote
    (``remote``: RemoteEnvironment keyword arguments); returns the handles of the jobs it submitted."""
    created: list[RemoteEnvironment] = []

    def make(*a: Any, **kw: Any) -> RemoteEnvironment:
        env = RemoteEnvironment(*a, **{**remote, **kw})
        created.append(env)
        return env

    originals = (sage_client.LocalEnvironment, sage_client.dataflow.LocalEnvironment)
    factory = functools.wraps(RemoteEnvironment, updated=())(make)
    sage_client.LocalEnvironment = factory  # type: ignore[misc,assignment]
    sage_client.dataflow.LocalEnvironment = factory  # type: ignore[misc,assignment]
    saved_argv = sys.argv
    sys.argv = [str(path), *(args or [])]
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved_argv
        sage_client.LocalEnvironment, sage_client.dataflow.LocalEnvironment = originals  # type: ignore[misc]
    return [env.job for env in created if env.job is not None]
