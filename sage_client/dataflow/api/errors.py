"""What an operator does when its user function raises.

The default fails the job: the exception is re-raised from ``submit(autostop=True)`` (or
``wait()``) with its original traceback. The other policies are opt-in per operator through
``on_error=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fail:
    """Stop the job and raise the exception from ``submit``/``wait``."""


@dataclass(frozen=True)
class Skip:
    """Drop the record (logged at WARNING) and go on."""


@dataclass(frozen=True)
class DeadLetter:
    """Send a ``FailedRecord`` to ``sink`` (a SinkFunction class or instance, or a callable)."""

    sink: Any


@dataclass(frozen=True)
class Retry:
    """Call the function up to ``times`` more times, then apply ``then``."""

    times: int
    then: Fail | Skip | DeadLetter = Fail()

    def __post_init__(self) -> None:
        if self.times < 1:
            raise ValueError(f"Retry(times={self.times}) must retry at least once")
        if isinstance(self.then, Retry):
            raise ValueError("Retry(then=...) must be Fail(), Skip() or DeadLetter(sink)")


ErrorPolicy = Fail | Skip | DeadLetter | Retry


@dataclass
class FailedRecord:
    """What a dead-letter sink receives."""

    record: Any
    error: BaseException
    operator: str
    attempts: int


def parse_error_policy(value: Any) -> ErrorPolicy:
    """Accept a policy object or the strings ``"fail"`` / ``"skip"``."""
    if value is None or value == "fail":
        return Fail()
    if value == "skip":
        return Skip()
    if isinstance(value, Fail | Skip | DeadLetter | Retry):
        return value
    raise ValueError(
        f"on_error={value!r} is not a policy; use 'fail', 'skip', Retry(n), or DeadLetter(sink)"
    )
