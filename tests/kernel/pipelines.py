"""Pipeline pieces the job tests submit. Registered with cloudpickle by value (conftest), the way
functions defined in a user's script travel."""

from __future__ import annotations

import time
from typing import Any

from sage_client import BatchFunction, MapFunction, SourceFunction


class SlowNumbers(BatchFunction):
    """0..count-1, one every ``delay`` seconds: long enough to kill or cancel mid-job."""

    def __init__(self, count: int, delay: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = count
        self.delay = delay
        self.next = 0

    def execute(self) -> Any:
        if self.next >= self.count:
            return None
        time.sleep(self.delay)
        self.next += 1
        return self.next - 1

    def restore_position(self, position: int) -> None:
        """Resume after a checkpoint without replaying the records already produced."""
        self.next = position


class ReplayedSlowNumbers(SlowNumbers):
    """No restore_position: a restored job replays it and drops what it had produced."""

    restore_position = None  # type: ignore[assignment]


class Forever(SourceFunction):
    """An unbounded source (cancel is the only way out)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = 0

    def execute(self) -> Any:
        time.sleep(0.01)
        self.n += 1
        return self.n


def square(x: int) -> int:
    return x * x


def explode(x: int) -> int:
    if x == 3:
        raise ValueError(f"record {x} is cursed")
    return x


def announce(x: Any) -> None:
    print(f"record {x}", flush=True)


class RunningCount(MapFunction):
    """(key, how many records of this key so far): wrong after a restart unless state came back."""

    def execute(self, x: int) -> tuple[int, int]:
        count = self.ctx.value_state("count", default=0)
        count.update(count.value() + 1)
        return self.ctx.get_key(), count.value()
