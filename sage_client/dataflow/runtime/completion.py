"""The clean end of a job: every record was processed downstream, so functions that held
something back until then settle it in ``on_job_complete()`` (a source acknowledges what it
delivered, a sink that buffers writes it out). Not called when the job failed or was cancelled:
what was held back is then delivered again by a restarted job (at-least-once)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

HOOK = "on_job_complete"


def complete_functions(functions: Iterable[tuple[str, Any]], fail: Any) -> None:
    """``functions``: (where, function object); ``fail(exc, where)`` records the first error."""
    for where, function in functions:
        hook = getattr(function, HOOK, None)
        if not callable(hook) or inspect.isfunction(function):
            continue
        try:
            hook()
        except Exception as exc:  # noqa: BLE001 - reported as the job's error
            fail(exc, f"{where} {HOOK}()")
