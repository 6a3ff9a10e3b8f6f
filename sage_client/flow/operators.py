"""Vector operators wired into the DataStream runtime.

They are built from the runtime's own pieces: ``keyby`` + ``window`` (tumbling/sliding by event
time, processing time or count; watermarks as in docs/dataflow.md) and a window function that
stacks the fired window's vectors into one contiguous float32 array and hands it to the native
core (``kernels``). Nothing runs per record pair in Python; outputs are built per result.

    from sage_client.flow import similarity_join, vector_window
    matches = similarity_join(left, right, TumblingWindow(10.0), k=5)
    vector_window(stream, SlidingWindow(60, 10)).aggregate().sink(print)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from sage_client.dataflow.api.datastream import DataStream, WindowedStream
from sage_client.dataflow.api.windows import COUNT, EVENT_TIME, Window, WindowSpec
from sage_client.flow import kernels
from sage_client.flow.records import (
    JoinMatch,
    Neighbours,
    VectorBatch,
    VectorRecord,
    WindowAggregate,
)
from sage_client.flow.targets import as_target

JOIN_METHODS = ("brute", "hnsw")
LEFT, RIGHT = 0, 1


# -- small picklable callables (the logical graph stays cloudpickle-able) -----------------------
class _Global:
    """Key of every record: one window group for the whole stream."""

    def __call__(self, record: Any) -> int:
        return 0


class _Timestamp:
    def __call__(self, record: VectorRecord) -> float:
        return record.timestamp


class _SideTimestamp:
    def __call__(self, tagged: tuple[int, VectorRecord]) -> float:
        return tagged[1].timestamp


class _Side:
    def __call__(self, tagged: tuple[int, VectorRecord]) -> int:
        return tagged[0]


class _Tag:
    """Marks which input of a join a record came from."""

    def __init__(self, side: int) -> None:
        self.side = side

    def __call__(self, record: Any) -> tuple[int, VectorRecord]:
        if not isinstance(record, VectorRecord):
            raise TypeError(
                f"similarity_join() takes streams of VectorRecord, got {type(record).__name__}"
            )
        return (self.side, record)


class _Identity:
    def __call__(self, record: Any) -> Any:
        return record


def _check_record(record: Any) -> VectorRecord:
    if not isinstance(record, VectorRecord):
        raise TypeError(f"vector windows take VectorRecord records, got {type(record).__name__}")
    return record


def _window(
    stream: DataStream,
    spec: WindowSpec,
    time: str | None,
    out_of_orderness: float,
    timestamp: Callable[[Any], float],
    key: Callable[[Any], Any] | None,
    sides: int = 0,
) -> WindowedStream:
    domain = time or EVENT_TIME
    windowed = stream.keyby(key or _Global()).window(
        spec,
        time=domain,
        timestamp=timestamp if domain == EVENT_TIME else None,
        out_of_orderness=out_of_orderness,
    )
    if sides and domain == EVENT_TIME:
        # A join's union: the watermark follows the slower input, so a window fires only once
        # both inputs have passed its end (not when the faster one has).
        windowed._options = dataclasses.replace(windowed._options, side=_Side(), sides=sides)
    return windowed


# -- window functions ---------------------------------------------------------------------------
class _BatchFunction:
    """``apply`` target: stacks a fired window into a VectorBatch, then ``on_batch``."""

    def __init__(self, dim: int | None) -> None:
        self.dim = dim

    def batch(self, records: list[Any]) -> VectorBatch:
        return VectorBatch.of([_check_record(r) for r in records], self.dim)

    def __call__(self, key: Any, window: Window, records: list[Any]) -> list[Any]:
        return self.on_batch(key, window, self.batch(records))

    def on_batch(self, key: Any, window: Window, batch: VectorBatch) -> list[Any]:
        raise NotImplementedError


class _Aggregate(_BatchFunction):
    def on_batch(self, key: Any, window: Window, batch: VectorBatch) -> list[Any]:
        return [WindowAggregate(key, window, len(batch), kernels.centroid(batch.vectors))]


class _UserBatch(_BatchFunction):
    def __init__(self, function: Callable[..., Any], dim: int | None) -> None:
        super().__init__(dim)
        self.function = function

    def on_batch(self, key: Any, window: Window, batch: VectorBatch) -> list[Any]:
        produced = self.function(key, window, batch)
        return list(produced) if produced is not None else []


class _TopK(_BatchFunction):
    """One batched search per window against the target; one Neighbours per record."""

    def __init__(self, target: Any, k: int, dim: int | None) -> None:
        super().__init__(dim)
        self.target = target
        self.k = k

    def on_batch(self, key: Any, window: Window, batch: VectorBatch) -> list[Any]:
        if not len(batch):
            return []
        want = getattr(self.target, "dim", None)
        if want is not None and batch.dim != want:
            raise ValueError(
                f"dimension mismatch: the stream's vectors have dimension {batch.dim}, "
                f"the collection's have dimension {want}"
            )
        hits = self.target.search(batch.vectors, self.k)
        return [
            Neighbours(uid, h.ids, h.scores, h.documents, payload, window, h.metadatas)
            for uid, payload, h in zip(batch.uids, batch.payloads, hits, strict=True)
        ]


class _Join:
    """Splits a fired window by side and joins the two contiguous arrays natively."""

    def __init__(
        self,
        k: int | None,
        threshold: float | None,
        method: str,
        metric: str,
        index: dict[str, Any] | None,
        threads: int,
        dim: int | None,
    ) -> None:
        self.k, self.threshold, self.method, self.metric = k, threshold, method, metric
        self.index, self.threads, self.dim = index, threads, dim

    def __call__(self, key: Any, window: Window, records: list[tuple[int, VectorRecord]]) -> list:
        lefts = [r for side, r in records if side == LEFT]
        rights = [r for side, r in records if side == RIGHT]
        if not lefts or not rights:
            return []  # an empty side: nothing to pair
        left = VectorBatch.of(lefts, self.dim)
        right = VectorBatch.of(rights, left.dim)
        if self.threshold is not None:
            li, ri, scores = kernels.range_join(
                left.vectors, right.vectors, self.threshold, self.metric, self.threads
            )
        else:
            assert self.k is not None
            if self.method == "hnsw":
                labels, sc = kernels.index_join(
                    left.vectors, right.vectors, self.k, self.metric, self.index, self.threads
                )
            else:
                labels, sc = kernels.knn_join(
                    left.vectors, right.vectors, self.k, self.metric, self.threads
                )
            li, col = np.nonzero(labels >= 0)
            ri, scores = labels[li, col], sc[li, col]
        lu, ru = left.uids, right.uids
        return [
            JoinMatch(lu[i], ru[j], s, window)
            for i, j, s in zip(li.tolist(), ri.tolist(), scores.tolist(), strict=True)
        ]


# -- the public operators -----------------------------------------------------------------------
class VectorWindowedStream:
    """``vector_window(...)``: finish with ``aggregate()``, ``topk(...)`` or ``apply(fn)``."""

    def __init__(self, windowed: WindowedStream, dim: int | None) -> None:
        self._windowed = windowed
        self._dim = dim

    def aggregate(self) -> DataStream:
        """One ``WindowAggregate(key, window, count, centroid)`` per fired window."""
        return self._windowed.apply(_Aggregate(self._dim))

    def topk(
        self, target: Any, k: int = 10, *, collection: str | None = None, **options: Any
    ) -> DataStream:
        """Each window's vectors searched at once against ``target`` (a native Collection, or
        a VDBClient with ``collection=``): one ``Neighbours`` per record."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        return self._windowed.apply(_TopK(as_target(target, collection, **options), k, self._dim))

    def apply(self, function: Callable[[Any, Window, VectorBatch], Any]) -> DataStream:
        """``function(key, window, batch)`` returns a list of outputs per fired window."""
        return self._windowed.apply(_UserBatch(function, self._dim))


def vector_window(
    stream: DataStream,
    spec: WindowSpec,
    *,
    time: str | None = None,
    out_of_orderness: float = 0.0,
    key: Callable[[Any], Any] | None = None,
    dim: int | None = None,
) -> VectorWindowedStream:
    """Window a stream of VectorRecord: ``time`` "event" (the records' timestamps, default),
    "processing" or "count"; ``key`` groups records (default: one group); ``dim`` checks every
    vector's dimension (default: the window's first record sets it)."""
    return VectorWindowedStream(
        _window(stream, spec, time, out_of_orderness, _Timestamp(), key), dim
    )


def stream_topk(
    stream: DataStream,
    target: Any,
    k: int = 10,
    *,
    batch_size: int = 256,
    collection: str | None = None,
    **options: Any,
) -> DataStream:
    """Top-k of every record against a collection, searched ``batch_size`` records at a time
    (count windows; the last partial batch fires at end of stream)."""
    from sage_client.dataflow.api.windows import TumblingWindow

    return vector_window(stream, TumblingWindow(batch_size), time=COUNT).topk(
        target, k, collection=collection, **options
    )


def similarity_join(
    left: DataStream,
    right: DataStream,
    spec: WindowSpec,
    *,
    k: int | None = None,
    threshold: float | None = None,
    method: str = "brute",
    metric: str = "cosine",
    time: str | None = None,
    out_of_orderness: float = 0.0,
    index: dict[str, Any] | None = None,
    threads: int = 0,
    dim: int | None = None,
) -> DataStream:
    """Join two streams of VectorRecord within each window: for every left record, its ``k``
    most similar right records (``method`` "brute": exact; "hnsw": an index on the right
    side), or every right record within ``threshold``. Emits ``JoinMatch(left_uid, right_uid,
    score, window)``. Count windows count the records of both inputs together."""
    if (k is None) == (threshold is None):
        raise ValueError("similarity_join() takes exactly one of k= or threshold=")
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if method not in JOIN_METHODS:
        raise ValueError(f"method must be one of {JOIN_METHODS}, got {method!r}")
    if method == "hnsw" and threshold is not None:
        raise ValueError("method='hnsw' joins by k; use method='brute' with threshold=")
    if metric not in kernels.METRICS:
        raise ValueError(f"metric must be one of {kernels.METRICS}, got {metric!r}")
    union = left.map(_Tag(LEFT)).connect(right.map(_Tag(RIGHT))).map(_Identity())
    windowed = _window(union, spec, time, out_of_orderness, _SideTimestamp(), None, sides=2)
    return windowed.apply(_Join(k, threshold, method, metric, index, threads, dim))
