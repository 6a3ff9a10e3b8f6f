"""The window operator: assigns records of each key to windows, fires them, routes late ones.

Event time: the watermark of an operator instance trails the largest timestamp it has seen by
``out_of_orderness``; a window fires once the watermark reaches its end, and a record whose
windows have all fired goes to the late side output. Processing time uses the wall clock as
both timestamp and watermark. Count windows fire every ``size`` (tumbling) or ``slide``
(sliding, over the last ``size`` records) records of a key. At end of stream every open window
fires, partial count windows included, so a bounded job loses nothing.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sage_client.dataflow.api.windows import (
    COUNT,
    EVENT_TIME,
    SessionWindow,
    SlidingWindow,
    Window,
    WindowOptions,
)
from sage_client.dataflow.runtime.context import RuntimeContext

_INF = math.inf


class _Reducer:
    """Folds records into an accumulator the same way for reduce, aggregate and apply."""

    def __init__(self, mode: str, function: Any, ctx: RuntimeContext) -> None:
        self.mode = mode
        if mode == "reduce":
            self.reduce: Callable[[Any, Any], Any] = getattr(function, "execute", function)
        elif mode == "aggregate":
            self.create = function.create_accumulator
            self.add_fn = function.add
            self.result = function.get_result
        else:
            self.apply_fn: Callable[[Any, Window, list[Any]], Any] = getattr(
                function, "execute", function
            )

    def start(self, record: Any) -> Any:
        if self.mode == "reduce":
            return record
        if self.mode == "aggregate":
            return self.add_fn(self.create(), record)
        return [record]

    def add(self, acc: Any, record: Any) -> Any:
        if self.mode == "reduce":
            return self.reduce(acc, record)
        if self.mode == "aggregate":
            return self.add_fn(acc, record)
        acc.append(record)
        return acc

    def fold(self, records: list[Any]) -> Any:
        acc = self.start(records[0])
        for record in records[1:]:
            acc = self.add(acc, record)
        return acc

    def emit(self, key: Any, window: Window, acc: Any, out_v: list[Any], out_k: list[Any]) -> None:
        if self.mode == "reduce":
            out_v.append(acc)
            out_k.append(key)
        elif self.mode == "aggregate":
            out_v.append(self.result(acc))
            out_k.append(key)
        else:
            produced = self.apply_fn(key, window, acc)
            if produced:
                produced = list(produced)
                out_v.extend(produced)
                out_k.extend([key] * len(produced))


class WindowOperator:
    def __init__(
        self, function: Any, options: WindowOptions, mode: str, ctx: RuntimeContext
    ) -> None:
        self.ctx = ctx
        self.options = options
        self.spec = options.spec
        self.reducer = _Reducer(mode, function, ctx)
        self.table = ctx.state.table("window")  # key -> per-key window state
        self.timers: list[tuple[float, int, Any, float]] = []  # (end, seq, key, start)
        self._seq = 0
        self.watermark = -_INF
        self.late_v: list[Any] = []
        self.late_k: list[Any] = []
        self.late_count = 0
        self.is_count = options.time == COUNT
        self.is_session = isinstance(self.spec, SessionWindow)
        self.needs_timer = options.time not in (COUNT, EVENT_TIME)
        if options.time == EVENT_TIME:
            self.timestamp: Callable[[Any], float] = options.timestamp
        # per-input watermarks (options.side): the operator's is the smallest of them
        self.side_of: Callable[[Any], int] | None = options.side
        self.side_marks = [-_INF] * options.sides
        if self.is_count:
            self.size = int(self.spec.size)
            self.slide = int(self.spec.slide) if isinstance(self.spec, SlidingWindow) else self.size

    # -- input ---------------------------------------------------------------------------
    def process(
        self, values: list[Any], keys: list[Any] | None
    ) -> tuple[list[Any], list[Any] | None]:
        if keys is None:
            raise RuntimeError(
                "window() needs a keyed stream; call .keyby(...) before .window(...)"
            )
        out_v: list[Any] = []
        out_k: list[Any] = []
        if self.is_count:
            self._count_records(values, keys, out_v, out_k)
            return out_v, out_k
        event_time = self.options.time == EVENT_TIME
        now = time.time()
        for value, key in zip(values, keys, strict=False):
            self.ctx.current_key = key
            ts = float(self.timestamp(value)) if event_time else now
            self._assign(key, value, ts)
            if event_time:
                mark = ts - self.options.out_of_orderness
                if self.side_of is not None:
                    side = self.side_of(value)
                    if mark > self.side_marks[side]:
                        self.side_marks[side] = mark
                elif mark > self.watermark:
                    self.watermark = mark
        if event_time and self.side_of is not None:
            self.watermark = max(self.watermark, min(self.side_marks))
        if event_time:
            self._fire_until(self.watermark, out_v, out_k)
        else:
            self._fire_until(now, out_v, out_k)
        return out_v, out_k

    def on_time(self, now: float) -> tuple[list[Any], list[Any]]:
        out_v: list[Any] = []
        out_k: list[Any] = []
        if self.needs_timer:
            self._fire_until(time.time(), out_v, out_k)
        return out_v, out_k

    def finish(self) -> tuple[list[Any], list[Any]]:
        out_v: list[Any] = []
        out_k: list[Any] = []
        if self.is_count:
            self._flush_count_windows(out_v, out_k)
        else:
            self._fire_until(_INF, out_v, out_k)
        return out_v, out_k

    def take_late(self) -> tuple[list[Any], list[Any]]:
        late_v, late_k = self.late_v, self.late_k
        self.late_v, self.late_k = [], []
        return late_v, late_k

    # -- time windows ---------------------------------------------------------------------
    def _late(self, key: Any, value: Any) -> None:
        self.late_count += 1
        self.late_v.append(value)
        self.late_k.append(key)

    def _timer(self, end: float, key: Any, start: float) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (end, self._seq, key, start))

    def _assign(self, key: Any, value: Any, ts: float) -> None:
        spec = self.spec
        if self.is_session:
            self._assign_session(key, value, ts)
            return
        size = spec.size
        slide = spec.slide if isinstance(spec, SlidingWindow) else size
        last_start = math.floor(ts / slide) * slide
        windows = self.table.get(key)
        if windows is None:
            windows = self.table[key] = {}
        placed = False
        start = last_start
        while start > ts - size:
            end = start + size
            if end > self.watermark:
                acc = windows.get(start)
                if acc is None and start not in windows:
                    windows[start] = self.reducer.start(value)
                    self._timer(end, key, start)
                else:
                    windows[start] = self.reducer.add(acc, value)
                placed = True
            start -= slide
        if not placed:
            self._late(key, value)

    def _assign_session(self, key: Any, value: Any, ts: float) -> None:
        gap = self.spec.gap
        if ts + gap <= self.watermark:
            self._late(key, value)
            return
        sessions: list[list[Any]] = self.table.setdefault(key, [])
        start, end, records = ts, ts + gap, [value]
        keep: list[list[Any]] = []
        for session in sessions:
            if session[0] < end and start < session[1]:  # overlaps: merge
                start = min(start, session[0])
                end = max(end, session[1])
                records = session[2] + records
            else:
                keep.append(session)
        keep.append([start, end, records])
        keep.sort(key=lambda s: s[0])
        self.table[key] = keep
        self._timer(end, key, start)

    def _fire_until(self, watermark: float, out_v: list[Any], out_k: list[Any]) -> None:
        timers = self.timers
        while timers and timers[0][0] <= watermark:
            end, _, key, start = heapq.heappop(timers)
            self.ctx.current_key = key
            state = self.table.get(key)
            if state is None:
                continue
            if self.is_session:
                match = next((s for s in state if s[0] == start and s[1] == end), None)
                if match is None:  # superseded by a merge; the merged session has its own timer
                    continue
                state.remove(match)
                self.reducer.emit(
                    key, Window(start, end), self.reducer.fold(match[2]), out_v, out_k
                )
            else:
                if start not in state:
                    continue
                acc = state.pop(start)
                self.reducer.emit(key, Window(start, end), acc, out_v, out_k)
            if not state:
                del self.table[key]

    # -- count windows ----------------------------------------------------------------------
    def _count_records(
        self, values: list[Any], keys: list[Any], out_v: list[Any], out_k: list[Any]
    ) -> None:
        table = self.table
        size, slide = self.size, self.slide
        tumbling = size == slide
        reducer = self.reducer
        for value, key in zip(values, keys, strict=False):
            state = table.get(key)
            if tumbling:
                # state: [records seen in the open window, accumulator, window index]
                if state is None:
                    table[key] = [1, reducer.start(value), 0]
                    state = table[key]
                elif state[0] == 0:
                    state[0] = 1
                    state[1] = reducer.start(value)
                else:
                    state[0] += 1
                    state[1] = reducer.add(state[1], value)
                if state[0] == size:
                    index = state[2]
                    self.ctx.current_key = key
                    reducer.emit(
                        key, Window(index * size, (index + 1) * size), state[1], out_v, out_k
                    )
                    state[0] = 0
                    state[1] = None
                    state[2] = index + 1
            else:
                # state: [total records seen, deque of the last `size` records, count at last fire]
                if state is None:
                    state = table[key] = [0, deque(maxlen=size), 0]
                state[0] += 1
                state[1].append(value)
                if state[0] % slide == 0:
                    self._fire_count_slide(key, state, out_v, out_k)

    def _fire_count_slide(
        self, key: Any, state: list[Any], out_v: list[Any], out_k: list[Any]
    ) -> None:
        self.ctx.current_key = key
        records = list(state[1])
        total = state[0]
        self.reducer.emit(
            key, Window(total - len(records), total), self.reducer.fold(records), out_v, out_k
        )
        state[2] = total

    def _flush_count_windows(self, out_v: list[Any], out_k: list[Any]) -> None:
        for key, state in list(self.table.items()):
            if self.size == self.slide:
                if state[0]:
                    self.ctx.current_key = key
                    index = state[2]
                    self.reducer.emit(
                        key,
                        Window(index * self.size, index * self.size + state[0]),
                        state[1],
                        out_v,
                        out_k,
                    )
            elif state[0] > state[2]:
                self._fire_count_slide(key, state, out_v, out_k)
        self.table.clear()
