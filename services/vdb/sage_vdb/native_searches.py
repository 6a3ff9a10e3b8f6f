"""Vector searches on the native core's own threads, collected by the event loop.

A Python thread pool costs a search two hand-overs of the interpreter lock (into the worker and
back out of the native call) while the event loop holds it most of the time under load; the
native executor's threads never take it. The loop watches the executor's eventfd and turns the
finished hits into Python values itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np

from sage_native import Collection, SearchExecutor

Hits = dict[str, Any]
SPLIT_FROM_QUERIES = 4  # queries per part, at least, when a batch is split over the threads


class NativeSearches:
    def __init__(self, threads: int) -> None:
        self._executor = SearchExecutor(threads)
        self._waiting: dict[int, asyncio.Future[Hits]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _watch(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None:
                self._loop.remove_reader(self._executor.fd())
            loop.add_reader(self._executor.fd(), self._deliver)
            self._loop = loop
        return loop

    async def search(
        self,
        core: Collection,
        queries: np.ndarray,
        k: int,
        where: dict[str, Any] | None,
        where_document: dict[str, Any] | None,
        fields: Sequence[str],
    ) -> Hits:
        """Raises ValueError for input the core rejects, as ``Collection.search`` does. A batch of
        queries is split over the executor's threads, so one request uses every core."""
        parts = min(self._executor.threads, len(queries) // SPLIT_FROM_QUERIES)
        if parts <= 1:
            return await self._one(core, queries, k, where, where_document, fields)
        chunks = np.array_split(queries, parts)
        found = await asyncio.gather(
            *(self._one(core, c, k, where, where_document, fields) for c in chunks)
        )
        return {
            key: (
                np.concatenate([f[key] for f in found])
                if isinstance(found[0][key], np.ndarray)
                else [row for f in found for row in f[key]]
            )
            for key in found[0]
        }

    async def _one(
        self,
        core: Collection,
        queries: np.ndarray,
        k: int,
        where: dict[str, Any] | None,
        where_document: dict[str, Any] | None,
        fields: Sequence[str],
    ) -> Hits:
        loop = self._watch()
        ticket = self._executor.submit(core, queries, k, where, where_document, list(fields))
        future: asyncio.Future[Hits] = loop.create_future()
        self._waiting[ticket] = future
        try:
            return await future
        finally:
            self._waiting.pop(ticket, None)  # cancelled: the result is dropped when it comes

    def _deliver(self) -> None:
        for ticket, outcome in self._executor.collect():
            future = self._waiting.pop(ticket, None)
            if future is None or future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._executor.fd())
        self._executor.shutdown()
        self._deliver_dropped()

    def _deliver_dropped(self) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(RuntimeError("the VDB service is shutting down"))
        self._waiting.clear()
