"""Restart strategies: how long to wait before the next attempt, or None to give up."""

from __future__ import annotations

from sage_client.dataflow.restart import RestartPolicy
from sage_proto.kernel.v1 import kernel_pb2


def check_strategy(strategy: kernel_pb2.RestartStrategy) -> None:
    """Raise ValueError naming the field when a strategy cannot be applied."""
    kind = strategy.WhichOneof("kind")
    if kind == "fixed_delay":
        s = strategy.fixed_delay
        if s.attempts < 0 or s.delay_ms < 0:
            raise ValueError("restart_strategy.fixed_delay: attempts and delay_ms must be >= 0")
    elif kind == "exponential_backoff":
        e = strategy.exponential_backoff
        if e.attempts < 0 or e.initial_delay_ms < 0:
            raise ValueError(
                "restart_strategy.exponential_backoff: attempts and initial_delay_ms must be >= 0"
            )
        if e.multiplier and e.multiplier <= 1:
            raise ValueError(
                f"restart_strategy.exponential_backoff.multiplier must be > 1 (0 means 2), got {e.multiplier}"
            )
        if e.max_delay_ms and e.max_delay_ms < e.initial_delay_ms:
            raise ValueError(
                "restart_strategy.exponential_backoff.max_delay_ms must be >= initial_delay_ms (0 = no cap)"
            )


def next_delay(strategy: kernel_pb2.RestartStrategy, restarts_so_far: int) -> float | None:
    """Seconds to wait before restart number ``restarts_so_far + 1``; None when none is left
    (the SDK's ``RestartPolicy``, which LocalEnvironment's recovery uses too)."""
    return RestartPolicy.from_proto(strategy).next_delay(restarts_so_far)
