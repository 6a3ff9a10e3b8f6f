"""Bounded channels between tasks, and the output side that batches and partitions records.

A channel carries whole batches (never single records): ``(input_index, values, keys)``, or
``(input_index, END, sender)`` when one upstream instance has finished. Being bounded in
batches is what holds an unbounded source back (backpressure) so memory stays bounded.
"""

from __future__ import annotations

import queue
import zlib
from collections.abc import Callable
from typing import Any

from sage_client.dataflow.api import graph as g

END = object()  # end-of-stream marker of one upstream instance


class JobAborted(Exception):
    """Raised inside a task when the job failed elsewhere or was cancelled."""


class Channel:
    """A FIFO of batches, bounded by ``capacity`` batches (0 = unbounded, for feedback edges)."""

    def __init__(self, capacity: int, aborted: Callable[[], bool]) -> None:
        self._queue: queue.Queue[tuple[int, Any, Any]] = queue.Queue(maxsize=capacity)
        self._aborted = aborted
        self.get_nowait = self._queue.get_nowait

    def put(self, message: tuple[int, Any, Any]) -> None:
        q = self._queue
        try:
            q.put_nowait(message)
            return
        except queue.Full:
            pass
        while True:  # blocked by a full channel: this is the backpressure
            try:
                q.put(message, timeout=0.1)
                return
            except queue.Full:
                if self._aborted():
                    raise JobAborted() from None

    def qsize(self) -> int:
        """Batches waiting (approximate; for metrics)."""
        return self._queue.qsize()

    def get(self, timeout: float) -> tuple[int, Any, Any]:
        """Raises ``queue.Empty`` after ``timeout`` seconds."""
        return self._queue.get(timeout=timeout)


def partition_hash(key: Any) -> int:
    """A hash that is the same in every process (``hash(str)`` is salted per process), so that
    upstream instances in different workers agree on where a key goes."""
    if isinstance(key, int):
        return key if key >= 0 else -key
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    if isinstance(key, bytes):
        return zlib.crc32(key)
    if isinstance(key, tuple):
        h = 0x345678
        for item in key:
            h = (h * 1000003) ^ partition_hash(item)
            h &= 0xFFFFFFFFFFFF
        return h
    if key is None:
        return 0
    try:
        return hash(key) & 0x7FFFFFFFFFFFFFFF
    except TypeError:
        raise TypeError(
            f"keyby() produced an unhashable key {key!r} ({type(key).__name__}); return a str, int or tuple"
        ) from None


class OutputEdge:
    """Buffers one logical edge's records per destination instance and flushes them as batches."""

    def __init__(
        self,
        edge: g.Edge,
        channels: list[Channel],
        sender_index: int,
        batch_size: int,
        on_send: Callable[[], None] | None,
        one_to_one: bool,
    ) -> None:
        self.channels = channels
        self.input_index = edge.input_index
        self.batch_size = batch_size
        self.on_send = on_send
        n = len(channels)
        self.width = n
        self.sender_index = sender_index
        self.values: list[list[Any]] = [[] for _ in range(n)]
        self.keys: list[list[Any] | None] = [None] * n
        self.rotation = sender_index  # round robin start, staggered between senders
        partition = edge.partition
        if partition == g.FORWARD:
            # equal widths were chained or wired one-to-one by the planner; else rebalance
            partition = "one_to_one" if n == 1 or one_to_one else g.ROUND_ROBIN
        self.partition = partition

    def emit(self, values: list[Any], keys: list[Any] | None) -> None:
        partition = self.partition
        if partition == "one_to_one":
            self._append(0 if self.width == 1 else self.sender_index, values, keys)
        elif partition == g.HASH:
            n = self.width
            if n == 1:
                self._append(0, values, keys)
                return
            if keys is None:
                raise RuntimeError("hash partitioning needs keys; this stream was not keyed")
            parts_v: list[list[Any]] = [[] for _ in range(n)]
            parts_k: list[list[Any]] = [[] for _ in range(n)]
            for v, k in zip(values, keys, strict=False):
                d = partition_hash(k) % n
                parts_v[d].append(v)
                parts_k[d].append(k)
            for d in range(n):
                if parts_v[d]:
                    self._append(d, parts_v[d], parts_k[d])
        elif partition == g.BROADCAST:
            for d in range(self.width):
                self._append(d, values, keys)
        else:  # round robin, record by record
            n = self.width
            if n == 1:
                self._append(0, values, keys)
                return
            start = self.rotation
            for j in range(min(n, len(values))):
                d = (start + j) % n
                self._append(d, values[j::n], keys[j::n] if keys is not None else None)
            self.rotation = (start + len(values)) % n

    def _append(self, dest: int, values: list[Any], keys: list[Any] | None) -> None:
        buffer = self.values[dest]
        if not buffer and len(values) >= self.batch_size:
            self._send(dest, values, keys)  # already a full batch: no copy
            return
        kbuf = self.keys[dest]
        if keys is not None:
            if kbuf is None:
                kbuf = self.keys[dest] = [None] * len(buffer)
            kbuf.extend(keys)
        elif kbuf is not None:
            kbuf.extend([None] * len(values))
        buffer.extend(values)
        if len(buffer) >= self.batch_size:
            self.flush_one(dest)

    def flush_one(self, dest: int) -> None:
        values = self.values[dest]
        if values:
            keys = self.keys[dest]
            self.values[dest] = []
            self.keys[dest] = None
            self._send(dest, values, keys)

    def flush(self) -> None:
        for dest in range(self.width):
            if self.values[dest]:
                self.flush_one(dest)

    def _send(self, dest: int, values: list[Any], keys: list[Any] | None) -> None:
        if self.on_send is not None:
            self.on_send()
        self.channels[dest].put((self.input_index, values, keys))

    def end(self, sender_id: int) -> None:
        self.flush()
        for channel in self.channels:
            channel.put((self.input_index, END, sender_id))


class Router:
    """All output edges of a task instance, grouped by output port (0 main, 1 late records)."""

    def __init__(self, ports: dict[int, list[OutputEdge]]) -> None:
        self.ports = ports
        self.main = ports.get(0, [])
        self.all = [edge for edges in ports.values() for edge in edges]
        self.single = self.main[0] if len(self.main) == 1 else None

    def emit(self, values: list[Any], keys: list[Any] | None, port: int = 0) -> None:
        if port == 0:
            if self.single is not None:
                self.single.emit(values, keys)
                return
            edges = self.main
        else:
            edges = self.ports.get(port, [])
        for edge in edges:
            edge.emit(values, keys)

    def flush(self) -> None:
        for edge in self.all:
            edge.flush()

    def end(self, sender_id: int) -> None:
        for edge in self.all:
            edge.end(sender_id)
