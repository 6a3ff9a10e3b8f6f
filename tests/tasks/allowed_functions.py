"""Functions the test workers allow-list for ``sage.run_function`` (SAGE_ALLOWED_MODULES)."""

from __future__ import annotations

import os


def add(a: int, b: int) -> int:
    return a + b


def crash_worker() -> None:
    """Kills the process running it, as a segfault or the OOM killer would."""
    os._exit(1)
