"""env.config["fault_tolerance"] honoured by LocalEnvironment."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sage.common.core.functions import MapFunction, SourceFunction
from sage.kernel.api.local_environment import LocalEnvironment
from sage.kernel.runtime.communication.packet import StopSignal

from sage_client.dataflow.restart import RestartPolicy


class FailsOnceAtFive(SourceFunction):
    """checkpoint_recovery_test.py's source: raises once at counter 5, keeps its own state."""

    def __init__(self) -> None:
        super().__init__()
        self.counter = 0
        self.failed_once = False

    def execute(self, data: Any = None) -> Any:
        self.counter += 1
        if self.counter > 10:
            return StopSignal("done")
        if self.counter == 5 and not self.failed_once:
            self.failed_once = True
            raise RuntimeError("simulated failure at 5")
        time.sleep(0.05)
        return self.counter

    def get_state(self) -> dict[str, Any]:
        return {"counter": self.counter, "failed_once": self.failed_once}

    def restore_state(self, state: dict[str, Any]) -> None:
        self.counter = state["counter"]
        self.failed_once = self.failed_once or state["failed_once"]


class AlwaysFails(MapFunction):
    def execute(self, data: Any) -> Any:
        raise ValueError(f"bad record {data}")


def _ft(**settings: Any) -> dict[str, Any]:
    return {"fault_tolerance": settings}


def test_checkpoint_strategy_recovers_from_the_last_checkpoint_and_loses_nothing() -> None:
    env = LocalEnvironment(
        "ckpt", _ft(strategy="checkpoint", checkpoint_interval=0.1, max_recovery_attempts=3)
    )
    out: list[int] = []
    env.from_source(FailsOnceAtFive).sink(out.append)
    env.submit(autostop=True)
    assert sorted(set(out)) == list(range(1, 11))  # at-least-once: every record arrives
    assert env.job.recoveries == 1 and env.job.checkpoints >= 1


def test_restart_strategy_runs_the_failed_job_again_in_place() -> None:
    env = LocalEnvironment(
        "restart",
        _ft(strategy="restart", restart_strategy="fixed", delay=0.0, max_attempts=2),
    )
    out: list[int] = []
    env.from_source(FailsOnceAtFive).sink(out.append)
    env.submit(autostop=True)
    assert env.job.recoveries == 1 and out[-1] == 10


def test_recovery_gives_up_after_max_attempts_with_the_original_error() -> None:
    env = LocalEnvironment(
        "gives-up", _ft(strategy="checkpoint", checkpoint_interval=5, max_recovery_attempts=2)
    )
    env.from_batch([1, 2]).map(AlwaysFails).sink(print)
    with pytest.raises(ValueError, match="bad record") as info:
        env.submit(autostop=True)
    assert any("gave up after 2 recovery" in note for note in info.value.__notes__)
    assert env.job.recoveries == 2


def test_keyed_state_comes_back_from_the_checkpoint() -> None:
    class Counter(MapFunction):
        def execute(self, data: Any) -> Any:
            count = self.ctx.value_state("n", 0)
            count.update(count.value() + 1)
            return (data, count.value())

    env = LocalEnvironment(
        "keyed", _ft(strategy="checkpoint", checkpoint_interval=0.1, max_recovery_attempts=3)
    )
    out: list[tuple[int, int]] = []
    env.from_source(FailsOnceAtFive).keyby(lambda x: x % 2).map(Counter).sink(out.append)
    env.submit(autostop=True)
    # the last count per key equals its number of distinct records: state survived the restart
    assert max(c for x, c in out if x % 2 == 0) >= 5 and max(c for x, c in out if x % 2) >= 5


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"strategy": "retry"}, "strategy must be one of"),
        ({"strategy": "checkpoint", "checkpoint_interval": 0}, "checkpoint_interval"),
        ({"strategy": "restart", "restart_strategy": "sometimes"}, "restart_strategy"),
        ({"strategy": "restart", "typo_key": 1}, "unknown fault_tolerance setting"),
    ],
)
def test_a_bad_fault_tolerance_config_is_refused_when_the_environment_is_made(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LocalEnvironment("bad", _ft(**settings))


def test_sage_restart_strategies_map_onto_one_restart_policy() -> None:
    exponential = RestartPolicy.from_sage(
        {"restart_strategy": "exponential", "initial_delay": 1, "max_delay": 5, "max_attempts": 3}
    )
    assert [exponential.next_delay(n) for n in range(4)] == [1, 2, 4, None]
    rate = RestartPolicy.from_sage(
        {"restart_strategy": "failure_rate", "max_failures_per_interval": 2, "interval_seconds": 10}
    )
    assert rate.next_delay(0, [0.0, 1.0]) is not None and rate.next_delay(0, [0, 1, 2]) is None
    assert RestartPolicy.from_proto(exponential.to_proto()) == exponential
