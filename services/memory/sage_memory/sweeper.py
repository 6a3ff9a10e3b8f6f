"""The periodic sweep of store attempts that never committed (see ``MemoryStore.collect_orphans``).

Every ``orphan_sweep_interval_s`` it walks the whole session index a page at a time, yielding
between pages so that calls are served meanwhile. A failed sweep (a dependency down) is logged
and tried again at the next interval. Replicas sweep independently; removing garbage twice is
harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sage_memory.store import MemoryStore

log = logging.getLogger("sage.memory.sweeper")
_PAUSE_BETWEEN_PAGES_S = 0.01


class OrphanSweeper:
    def __init__(self, store: MemoryStore, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> tuple[int, int]:
        """One pass over the index; (entries checked, attempts collected)."""
        checked = collected = 0
        token = ""
        while True:
            page_checked, page_collected, token = await self.store.collect_orphans(token)
            checked += page_checked
            collected += page_collected
            if not token:
                return checked, collected
            await asyncio.sleep(_PAUSE_BETWEEN_PAGES_S)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                checked, collected = await self.sweep()
            except Exception as exc:  # noqa: BLE001 - a dependency down: try again next time
                log.warning("orphan sweep failed (%s); next try in %.0f s", exc, self.interval_s)
                continue
            if collected:
                log.info(
                    "orphan sweep: %d index entries checked, %d uncommitted stores removed",
                    checked,
                    collected,
                )

    async def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
