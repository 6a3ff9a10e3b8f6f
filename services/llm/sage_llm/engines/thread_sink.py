"""Hands a request's deltas from an engine's decode thread to the request's event loop."""

from __future__ import annotations

import asyncio

from sage_llm.engines.base import TokenDelta


class ThreadSink:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[TokenDelta | BaseException] = asyncio.Queue()

    def push(self, item: TokenDelta | BaseException) -> bool:
        """Called from the decode thread; False when nobody is listening any more."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
            return True
        except RuntimeError:  # the consumer's loop is closed
            return False
