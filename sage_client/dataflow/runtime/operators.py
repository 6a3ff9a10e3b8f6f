"""Physical operators: each turns a batch (values, keys) into a batch.

``keys`` is None on a stream that was never keyed, else a list parallel to ``values``. The
unkeyed paths are single list comprehensions on purpose: they are the chained hot loop.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable
from typing import Any

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.api.errors import (
    ErrorPolicy,
    Fail,
    FailedRecord,
    Retry,
    Skip,
)
from sage_client.dataflow.api.functions import BaseFunction, FlatMapFunction
from sage_client.dataflow.runtime.context import RuntimeContext
from sage_client.dataflow.runtime.windowing import WindowOperator

Batch = tuple[list[Any], list[Any] | None]
_EMPTY: Batch = ([], None)
DROP = object()  # a guarded call's "no output" after skip / dead letter

log = logging.getLogger("sage.dataflow")


def instantiate(node: g.Node, index: int) -> Any:
    """One function object per parallel instance: classes are built, instances copied."""
    function = node.function
    if inspect.isclass(function):
        return function(*node.args, **node.kwargs)
    if isinstance(function, BaseFunction) and index > 0:
        return copy.deepcopy(function)
    return function


def bind(instance: Any, ctx: RuntimeContext) -> None:
    if isinstance(instance, BaseFunction):
        instance.ctx = ctx
        instance.open()


def close_function(instance: Any) -> None:
    closer = getattr(instance, "close", None)
    if callable(closer) and not inspect.isfunction(instance):
        closer()


def entry_point(instance: Any, name: str = "execute") -> Callable[..., Any]:
    """The callable to run per record: ``execute`` of a Function (or a duck-typed object),
    else the callable itself."""
    if isinstance(instance, BaseFunction):
        return getattr(instance, name)  # type: ignore[no-any-return]
    if inspect.isfunction(instance) or inspect.ismethod(instance) or inspect.isbuiltin(instance):
        return instance  # type: ignore[no-any-return]
    method = getattr(instance, name, None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    if callable(instance):
        return instance  # type: ignore[no-any-return]
    raise TypeError(f"{instance!r} is neither a Function nor a callable")


class Guard:
    """Applies an operator's error policy around one call."""

    def __init__(
        self, policy: ErrorPolicy, operator: str, dead_letter: Callable[[FailedRecord], Any] | None
    ) -> None:
        self.retries = policy.times if isinstance(policy, Retry) else 0
        self.final = policy.then if isinstance(policy, Retry) else policy
        self.operator = operator
        self.dead_letter = dead_letter
        self.errors = 0  # records given up on (skipped or dead-lettered): operator metrics

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        retries, final, operator = self.retries, self.final, self.operator

        def guarded(*args: Any) -> Any:
            attempts = 0
            while True:
                try:
                    return fn(*args)
                except Exception as exc:
                    attempts += 1
                    if attempts <= retries:
                        continue
                    if isinstance(final, Fail):
                        raise
                    self.errors += 1
                    if isinstance(final, Skip):
                        log.warning(
                            "%s skipped a record after %d attempt(s): %r", operator, attempts, exc
                        )
                    elif self.dead_letter is not None:
                        self.dead_letter(FailedRecord(args[0], exc, operator, attempts))
                    return DROP

        return guarded


class Operator:
    """Base: single-input operators implement ``process``; ``finish`` flushes at end of stream."""

    needs_timer = False
    node_id = -1  # the logical node this operator runs (for error messages)
    records_in = 0  # counters read by Job.metrics() (job manager events)
    records_out = 0
    guard: Guard | None = None  # the error policy's guard, whose count of errors metrics read

    def process(self, values: list[Any], keys: list[Any] | None) -> Batch:
        raise NotImplementedError

    def process_input(self, index: int, values: list[Any], keys: list[Any] | None) -> Batch:
        return self.process(values, keys)

    def on_time(self, now: float) -> Batch:
        return _EMPTY

    def finish(self) -> Batch:
        return _EMPTY


class MapOperator(Operator):
    def __init__(self, fn: Callable[[Any], Any], ctx: RuntimeContext, guarded: bool) -> None:
        self.fn, self.ctx, self.guarded = fn, ctx, guarded

    def process(self, values: list[Any], keys: list[Any] | None) -> Batch:
        fn = self.fn
        if keys is None and not self.guarded:
            # SAGE: a map whose function returns None emits nothing for that record
            return [r for v in values if (r := fn(v)) is not None], None
        return _map_slow(fn, self.ctx, values, keys)


def _map_slow(
    fn: Callable[[Any], Any], ctx: RuntimeContext, values: list[Any], keys: list[Any] | None
) -> Batch:
    out_v: list[Any] = []
    if keys is None:
        for v in values:
            r = fn(v)
            if r is not DROP and r is not None:
                out_v.append(r)
        return out_v, None
    out_k: list[Any] = []
    for v, k in zip(values, keys, strict=False):
        ctx.current_key = k
        r = fn(v)
        if r is not DROP and r is not None:
            out_v.append(r)
            out_k.append(k)
    return out_v, out_k


class FilterOperator(Operator):
    def __init__(self, fn: Callable[[Any], Any], ctx: RuntimeContext, guarded: bool) -> None:
        self.fn, self.ctx, self.guarded = fn, ctx, guarded

    def process(self, values: list[Any], keys: list[Any] | None) -> Batch:
        fn = self.fn
        if keys is None:
            if not self.guarded:
                return [v for v in values if fn(v)], None
            return [v for v in values if (r := fn(v)) and r is not DROP], None
        ctx = self.ctx
        out_v: list[Any] = []
        out_k: list[Any] = []
        for v, k in zip(values, keys, strict=False):
            ctx.current_key = k
            r = fn(v)
            if r and r is not DROP:
                out_v.append(v)
                out_k.append(k)
        return out_v, out_k


def flatmap_call(instance: Any) -> Callable[[Any], Any]:
    """Normalise the two FlatMapFunction styles (return a list / use the collector)."""
    execute = entry_point(instance)
    if not isinstance(instance, FlatMapFunction):
        return execute

    def call(value: Any) -> Any:
        result = execute(value)
        if result is None:
            items = instance.collector.items
            if items:
                instance.collector.items = []
                return items
            return ()
        return result

    return call


class FlatMapOperator(Operator):
    def __init__(self, fn: Callable[[Any], Any], ctx: RuntimeContext, guarded: bool) -> None:
        self.fn, self.ctx, self.guarded = fn, ctx, guarded

    def process(self, values: list[Any], keys: list[Any] | None) -> Batch:
        fn = self.fn
        out_v: list[Any] = []
        if keys is None:
            extend = out_v.extend
            for v in values:
                r = fn(v)
                if r is not None and r is not DROP:
                    extend(r)
            return out_v, None
        out_k: list[Any] = []
        ctx = self.ctx
        for v, k in zip(values, keys, strict=False):
            ctx.current_key = k
            r = fn(v)
            if r is not None and r is not DROP:
                r = list(r)
                out_v.extend(r)
                out_k.extend([k] * len(r))
        return out_v, out_k


class SinkOperator(Operator):
    def __init__(self, fn: Callable[[Any], Any], ctx: RuntimeContext, guarded: bool) -> None:
        self.fn, self.ctx = fn, ctx

    def process(self, values: list[Any], keys: list[Any] | None) -> Batch:
        fn = self.fn
        if keys is None:
            for v in values:
                fn(v)
        else:
            ctx = self.ctx
            for v, k in zip(values, keys, strict=False):
                ctx.current_key = k
                fn(v)
        return _EMPTY


class KeyByOperator(Operator):
    def __init__(self, fn: Callable[[Any], Any], ctx: RuntimeContext, guarded: bool) -> None:
        self.fn = fn

    def process(self, values: list[Any], keys: list[Any] | None) -> Batch:
        fn = self.fn
        return values, [fn(v) for v in values]


class CoMapOperator(Operator):
    def __init__(self, maps: list[Callable[[Any], Any]], ctx: RuntimeContext) -> None:
        self.maps, self.ctx = maps, ctx

    def process_input(self, index: int, values: list[Any], keys: list[Any] | None) -> Batch:
        fn = self.maps[index]
        if keys is None:
            return [r for v in values if (r := fn(v)) is not None], None
        return _map_slow(fn, self.ctx, values, keys)


class JoinOperator(Operator):
    def __init__(self, fn: Callable[[Any, Any, int], Any], ctx: RuntimeContext) -> None:
        self.fn, self.ctx = fn, ctx

    def process_input(self, index: int, values: list[Any], keys: list[Any] | None) -> Batch:
        if keys is None:
            raise RuntimeError("join() received an unkeyed record; key both inputs with keyby()")
        fn, ctx = self.fn, self.ctx
        out_v: list[Any] = []
        out_k: list[Any] = []
        for v, k in zip(values, keys, strict=False):
            ctx.current_key = k
            produced = fn(v, k, index)
            if produced:
                produced = list(produced)
                out_v.extend(produced)
                out_k.extend([k] * len(produced))
        return out_v, out_k


class WindowAdapter(Operator):
    needs_timer = False

    def __init__(self, window: WindowOperator) -> None:
        self.window = window
        self.needs_timer = window.needs_timer

    def process(self, values: list[Any], keys: list[Any] | None) -> Batch:
        return self.window.process(values, keys)

    def on_time(self, now: float) -> Batch:
        return self.window.on_time(now)

    def finish(self) -> Batch:
        return self.window.finish()


def build_operator(
    node: g.Node,
    instance: Any,
    ctx: RuntimeContext,
    inputs: int,
    dead_letter: Callable[[FailedRecord], Any] | None,
) -> Operator:
    """The physical operator for ``node`` around its (bound) function ``instance``."""
    policy = node.options.get("on_error") or Fail()
    guard = None if isinstance(policy, Fail) else Guard(policy, node.name, dead_letter)
    kind = node.kind
    if kind in (g.MAP, g.FILTER, g.SINK, g.KEYBY, g.FLATMAP):
        fn = flatmap_call(instance) if kind == g.FLATMAP else entry_point(instance)
        if guard is not None:
            fn = guard.wrap(fn)
        cls = {
            g.MAP: MapOperator,
            g.FILTER: FilterOperator,
            g.SINK: SinkOperator,
            g.KEYBY: KeyByOperator,
            g.FLATMAP: FlatMapOperator,
        }[kind]
        operator = cls(fn, ctx, guard is not None)
        operator.guard = guard
        return operator
    if kind == g.COMAP:
        return CoMapOperator([getattr(instance, f"map{i}") for i in range(inputs)], ctx)
    if kind == g.JOIN:
        return JoinOperator(entry_point(instance), ctx)
    if kind == g.WINDOW:
        # a WindowOperator subclass may stand in (e.g. sage_client.tsdb_stream's join)
        window_class = node.options.get("operator", WindowOperator)
        return WindowAdapter(
            window_class(instance, node.options["window"], node.options["mode"], ctx)
        )
    raise ValueError(f"no operator for node kind {kind!r}")
