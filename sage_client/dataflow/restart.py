"""Restart strategies: how long to wait before the next attempt, or None to give up.

One description serves both runtimes: ``LocalEnvironment``'s recovery (SAGE's
``config["fault_tolerance"]``) and the job manager (``to_proto`` / ``from_proto``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sage_proto.kernel.v1 import kernel_pb2

KINDS = ("none", "fixed_delay", "exponential_backoff", "failure_rate")
# SAGE's restart_strategy names -> ours
_SAGE_KINDS = {
    "fixed": "fixed_delay",
    "exponential": "exponential_backoff",
    "failure_rate": "failure_rate",
}


@dataclass(frozen=True)
class RestartPolicy:
    """``kind``: "none", "fixed_delay" (attempts, delay_s), "exponential_backoff"
    (attempts, delay_s = first delay, max_delay_s, multiplier) or "failure_rate" (local only:
    at most ``attempts`` failures within ``interval_s``, ``delay_s`` between restarts)."""

    kind: str = "none"
    attempts: int = 0
    delay_s: float = 1.0
    max_delay_s: float = 60.0
    multiplier: float = 2.0
    interval_s: float = 60.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"restart kind must be one of {KINDS}; got {self.kind!r}")
        if self.attempts < 0 or self.delay_s < 0:
            raise ValueError("restart attempts and delay must be >= 0")
        if self.kind == "exponential_backoff":
            if self.multiplier <= 1:
                raise ValueError(f"restart multiplier must be > 1, got {self.multiplier}")
            if self.max_delay_s and self.max_delay_s < self.delay_s:
                raise ValueError("restart max_delay must be >= the initial delay (0 = no cap)")

    def next_delay(self, restarts_so_far: int, failure_times: Sequence[float] = ()) -> float | None:
        """Seconds to wait before restart number ``restarts_so_far + 1``; None when none is
        left. ``failure_times`` (monotonic seconds, latest last) is what failure_rate counts."""
        if self.kind == "fixed_delay":
            return self.delay_s if restarts_so_far < self.attempts else None
        if self.kind == "exponential_backoff":
            if restarts_so_far >= self.attempts:
                return None
            delay = self.delay_s * self.multiplier**restarts_so_far
            return min(delay, self.max_delay_s) if self.max_delay_s else delay
        if self.kind == "failure_rate":
            if not failure_times:
                return self.delay_s
            latest = failure_times[-1]
            recent = [t for t in failure_times if latest - t <= self.interval_s]
            return self.delay_s if len(recent) <= self.attempts else None
        return None

    @classmethod
    def from_sage(cls, config: Mapping[str, Any], default_attempts: int = 3) -> RestartPolicy:
        """SAGE's ``fault_tolerance`` keys: ``restart_strategy`` fixed | exponential |
        failure_rate with ``delay``, ``max_attempts``, ``initial_delay``, ``max_delay``,
        ``multiplier``, ``max_failures_per_interval``, ``interval_seconds``."""
        name = str(config.get("restart_strategy", "fixed"))
        kind = _SAGE_KINDS.get(name)
        if kind is None:
            raise ValueError(
                f"fault_tolerance.restart_strategy must be one of {sorted(_SAGE_KINDS)}, got {name!r}"
            )
        attempts = int(
            config.get("max_attempts", config.get("max_recovery_attempts", default_attempts))
        )
        if kind == "exponential_backoff":
            return cls(
                kind,
                attempts=attempts,
                delay_s=float(config.get("initial_delay", config.get("delay", 1.0))),
                max_delay_s=float(config.get("max_delay", 60.0)),
                multiplier=float(config.get("multiplier", 2.0)),
            )
        if kind == "failure_rate":
            return cls(
                kind,
                attempts=int(config.get("max_failures_per_interval", attempts)),
                delay_s=float(config.get("delay", 1.0)),
                interval_s=float(config.get("interval_seconds", 60.0)),
            )
        return cls(kind, attempts=attempts, delay_s=float(config.get("delay", 0.0)))

    def to_proto(self) -> kernel_pb2.RestartStrategy:
        from sage_proto.kernel.v1 import kernel_pb2

        if self.kind == "none":
            return kernel_pb2.RestartStrategy(none=kernel_pb2.NoRestart())
        if self.kind == "fixed_delay":
            return kernel_pb2.RestartStrategy(
                fixed_delay=kernel_pb2.FixedDelayRestart(
                    attempts=self.attempts, delay_ms=int(self.delay_s * 1000)
                )
            )
        if self.kind == "exponential_backoff":
            return kernel_pb2.RestartStrategy(
                exponential_backoff=kernel_pb2.ExponentialBackoffRestart(
                    attempts=self.attempts,
                    initial_delay_ms=int(self.delay_s * 1000),
                    max_delay_ms=int(self.max_delay_s * 1000),
                    multiplier=self.multiplier,
                )
            )
        raise ValueError(
            f"the job manager restarts with none, fixed_delay or exponential_backoff; got {self.kind!r}"
        )

    @classmethod
    def from_proto(cls, strategy: kernel_pb2.RestartStrategy) -> RestartPolicy:
        kind = strategy.WhichOneof("kind")
        if kind == "fixed_delay":
            s = strategy.fixed_delay
            return cls(kind, attempts=s.attempts, delay_s=s.delay_ms / 1000)
        if kind == "exponential_backoff":
            e = strategy.exponential_backoff
            return cls(
                kind,
                attempts=e.attempts,
                delay_s=e.initial_delay_ms / 1000,
                max_delay_s=e.max_delay_ms / 1000,
                multiplier=e.multiplier or 2.0,
            )
        return cls("none")
