"""A job's event log: state changes, log lines and metrics, kept for late followers, and the
condition its followers (and a supervisor sleeping before a restart) wait on."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from google.protobuf import timestamp_pb2

from sage_proto.kernel.v1 import kernel_pb2

EVENT_HISTORY = 100_000  # events kept per job for late followers (log lines dominate)


class EventLog:
    def __init__(self) -> None:
        self.history: collections.deque[kernel_pb2.StreamJobEventsResponse] = collections.deque(
            maxlen=EVENT_HISTORY
        )
        self.dropped = 0  # events fallen out of the history, so followers can keep their place
        self.changed = asyncio.Condition()

    def emit(self, **event: Any) -> None:
        stamp = timestamp_pb2.Timestamp()
        stamp.GetCurrentTime()
        if len(self.history) == self.history.maxlen:
            self.dropped += 1
        self.history.append(kernel_pb2.StreamJobEventsResponse(time=stamp, **event))

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def follow(
        self, follow: bool, ended: Callable[[], bool]
    ) -> AsyncIterator[kernel_pb2.StreamJobEventsResponse]:
        """Yields the events from the start; with ``follow`` until ``ended()``."""
        position = self.dropped  # absolute event index; events[0] is number ``dropped``
        while True:
            while position < self.dropped + len(self.history):
                position = max(position, self.dropped)
                event = self.history[position - self.dropped]
                position += 1
                yield event
            if not follow or ended():
                return
            async with self.changed:
                if position >= self.dropped + len(self.history):
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.changed.wait(), 1.0)
