"""Long, self-contained, CPU-bound steps of the suite, started in the background as soon as
the tests are collected: mypy, the C++ builds, the wheel, the Dockerfile's install step.

Most of the suite waits on real servers (start-up, RPCs, timeouts): on 2 cores about one core
stays idle through a run. A step marked here runs on that core, one step at a time, niced, in
the order the selected tests need them; the test that needs a step waits for its result and
then asserts exactly what it asserted when it ran the step itself. Deselect the test and its
step never starts.

    @pytest.mark.background("mypy")
    def test_mypy_is_clean(background: Background) -> None:
        result = background.result("mypy")

A step is a function of a scratch folder (removed at the end of the session) returning any
value; what it raises is raised in the test (``pytest.skip`` included).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

Step = Callable[[Path], Any]
STEPS: dict[str, Step] = {}
NICE = 10  # below the tests' own processes: a step never slows a test's servers


def step(name: str) -> Callable[[Step], Step]:
    """Register ``fn(scratch_dir)`` as the background step ``name``."""

    def register(fn: Step) -> Step:
        STEPS[name] = fn
        return fn

    return register


class Background:
    """The steps this session's selected tests asked for."""

    def __init__(self) -> None:
        self._futures: dict[str, Future[Any]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._scratch = Path(tempfile.mkdtemp(prefix="sage-test-background-"))

    def start(self, names: list[str]) -> None:
        unknown = sorted(set(names) - set(STEPS))
        if unknown:
            raise pytest.UsageError(f"unknown background step(s): {', '.join(unknown)}")
        if not names:
            return
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sage-test-bg")
        for name in names:
            if name not in self._futures:
                self._futures[name] = self._pool.submit(self._run, name)

    def _run(self, name: str) -> Any:
        # niceness is per thread on Linux, and the processes this thread starts inherit it
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        where = self._scratch / name
        where.mkdir()
        return STEPS[name](where)

    def result(self, name: str, timeout: float = 1200.0) -> Any:
        """Wait for a step (started now if no marker asked for it) and return its value."""
        if name not in self._futures:
            self.start([name])
        return self._futures[name].result(timeout=timeout)

    def close(self) -> None:
        if self._pool is not None:
            for future in self._futures.values():
                future.cancel()
            self._pool.shutdown(wait=True)
        shutil.rmtree(self._scratch, ignore_errors=True)


SESSION = Background()  # tests/conftest.py wires it into pytest's hooks


def steps_for(items: list[pytest.Item]) -> list[str]:
    """The steps the selected tests name, in the order the first of them runs."""
    names: list[str] = []
    for item in items:
        for mark in item.iter_markers("background"):
            for name in mark.args:
                if name not in names:
                    names.append(name)
    return names


def configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "background(name): the test uses a step started in the background"
    )


def start_for(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.option.collectonly:
        SESSION.start(steps_for(items))
