"""Reading sources in batches: collections by slicing, functions call by call."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.api.functions import is_stop

_IDLE_SLEEP_MAX = 0.01  # a source with nothing to give is polled at most every 10 ms


def collection_batches(
    node: g.Node, index: int, batch_size: int, skip: int = 0
) -> Iterator[list[Any]]:
    """``skip``: records of this instance already produced before a restored checkpoint."""
    data = node.function
    width = node.parallelism
    if isinstance(data, list | tuple | range):
        part = data if width == 1 else data[index::width]
        part = part[skip:] if skip else part
        for start in range(0, len(part), batch_size):
            chunk = part[start : start + batch_size]
            yield chunk if isinstance(chunk, list) else list(chunk)
        return
    iterator = iter(data)
    if skip:
        iterator = itertools.islice(iterator, skip, None)
    while True:
        chunk = list(itertools.islice(iterator, batch_size))
        if not chunk:
            return
        yield chunk


def function_batches(
    execute: Callable[[], Any],
    bounded: bool,
    batch_size: int,
    linger: float,
    should_stop: Callable[[], bool],
    hand_over: Callable[[], bool] | None = None,
) -> Iterator[list[Any]]:
    """Calls ``execute()`` until it signals the end; yields a batch when it is full, when
    ``linger`` seconds have passed since its first record, or when the source has nothing yet
    (then possibly an empty one), or at once when ``hand_over()`` says so."""
    batch: list[Any] = []
    first = 0.0
    idle = 0.0005
    clock = time.monotonic
    while True:
        if should_stop():
            break
        record = execute()
        if record is None:
            if bounded:
                break
            yield batch  # possibly empty: tells the task it is idle, so it flushes its outputs
            batch = []
            time.sleep(idle)
            idle = min(idle * 2, _IDLE_SLEEP_MAX)
            continue
        if is_stop(record):
            break
        idle = 0.0005
        if not batch:
            first = clock()
        batch.append(record)
        if (
            len(batch) >= batch_size
            or (len(batch) & 63 == 0 and clock() - first >= linger)
            or (hand_over is not None and hand_over())  # a checkpoint waits for this source
        ):
            yield batch
            batch = []
    if batch:
        yield batch


def paced(
    batches: Iterator[list[Any]], delay: float, should_stop: Callable[[], bool]
) -> Iterator[list[Any]]:
    """SAGE's ``delay=``: one record, an empty batch (the task flushes it downstream at once),
    then ``delay`` seconds before the source is asked again. ``batches`` must be read one
    record at a time (batch size 1) so the source itself is called at that pace."""
    for batch in batches:
        if not batch:
            yield batch
            continue
        for record in batch:
            yield [record]
            yield []
            deadline = time.monotonic() + delay
            while not should_stop():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(left, 0.05))
