"""SAGE's environment surface: env.pipeline, delay=, env.execute(), env.source, StopSignal."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sage.common.core.functions import MapFunction, SourceFunction
from sage.kernel.api.local_environment import LocalEnvironment
from sage.kernel.runtime.communication.packet import StopSignal


class Double(MapFunction):
    def execute(self, data: Any) -> Any:
        return data * 2


class Countdown(SourceFunction):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def execute(self, data: Any = None) -> Any:
        if self.n == 0:
            return StopSignal("countdown done", source="Countdown", payload=0)
        self.n -= 1
        return self.n


def test_pipeline_lists_transformations_with_sage_names_and_parallelism() -> None:
    env = LocalEnvironment("pipeline")
    env.from_batch([1, 2]).map(Double, parallelism=3).map(Double).sink(print)
    names = [(t.basename, t.function_class, t.parallelism) for t in env.pipeline]
    assert names[1:3] == [("Double", Double, 3), ("Double_1", Double, 1)]
    assert env.pipeline[0].is_source and not env.pipeline[1].is_source


def test_delay_paces_a_source_record_by_record() -> None:
    env = LocalEnvironment("paced")
    seen: list[float] = []
    env.from_batch([1, 2, 3], delay=0.2).sink(lambda _: seen.append(time.monotonic()))
    env.submit(autostop=True)
    gaps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert len(seen) == 3 and min(gaps) >= 0.18  # a lower bound: the pacing, not a speed


def test_delay_must_be_a_non_negative_number() -> None:
    env = LocalEnvironment("bad-delay")
    with pytest.raises(ValueError, match="delay"):
        env.from_batch([1], delay=-1)
    assert not env.graph.nodes


def test_execute_runs_to_the_end_and_source_is_from_source() -> None:
    env = LocalEnvironment("seeds")
    out: list[int] = []
    env.source(Countdown, 4).map(Double).sink(out.append)
    env.execute()
    assert sorted(out) == [0, 2, 4, 6]


def test_stop_signal_carries_sage_fields() -> None:
    signal = StopSignal("done", source="src", payload={"n": 1})
    assert (signal.message, signal.name, signal.source, signal.payload) == (
        "done",
        "done",
        "src",
        {"n": 1},
    )
    assert signal.timestamp > 0 and StopSignal().message == "Stop"


def test_a_base_function_with_process_is_called_through_process() -> None:
    from sage.core.api.function.base_function import BaseFunction

    class Old(BaseFunction):
        def process(self, data: Any) -> Any:
            return data + 1

    env = LocalEnvironment("process")
    out: list[int] = []
    env.from_batch([1, 2]).map(Old()).sink(out.append)
    env.execute()
    assert sorted(out) == [2, 3]


def test_a_map_returning_none_emits_nothing() -> None:
    env = LocalEnvironment("none")
    out: list[int] = []
    env.from_batch([1, 2, 3, 4]).map(lambda x: x if x % 2 else None).sink(out.append)
    env.execute()
    assert sorted(out) == [1, 3]
