"""A bounded admission queue for asyncio engines: run up to N, queue up to M, refuse the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sage_llm.errors import QueueFullError


class AdmissionQueue:
    def __init__(self, max_running: int, max_waiting: int) -> None:
        if max_running < 1:
            raise ValueError("max_running must be >= 1")
        if max_waiting < 0:
            raise ValueError("max_waiting must be >= 0")
        self._slots = asyncio.Semaphore(max_running)
        self._max_running = max_running
        self._max_waiting = max_waiting
        self._running = 0
        self._waiting = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._waiting

    def check_room(self) -> None:
        """Raise QueueFullError now if a new request would have neither a slot nor a queue place."""
        if self._running >= self._max_running and self._waiting >= self._max_waiting:
            raise QueueFullError(self._max_waiting)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.check_room()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            self._slots.release()
