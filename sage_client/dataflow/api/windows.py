"""Window specifications (plain data; the runtime's window operator interprets them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class Window(NamedTuple):
    """Half-open interval ``[start, end)`` of event/processing time, or of record counts."""

    start: float
    end: float


@dataclass(frozen=True)
class TumblingWindow:
    size: float

    def __post_init__(self) -> None:
        _positive("TumblingWindow(size)", self.size)


@dataclass(frozen=True)
class SlidingWindow:
    size: float
    slide: float

    def __post_init__(self) -> None:
        _positive("SlidingWindow(size)", self.size)
        _positive("SlidingWindow(slide)", self.slide)
        if self.slide > self.size:
            raise ValueError(
                f"SlidingWindow(size={self.size}, slide={self.slide}): slide larger than size "
                "would drop records between windows; use slide <= size"
            )


@dataclass(frozen=True)
class SessionWindow:
    gap: float

    def __post_init__(self) -> None:
        _positive("SessionWindow(gap)", self.gap)


WindowSpec = TumblingWindow | SlidingWindow | SessionWindow

EVENT_TIME = "event"
PROCESSING_TIME = "processing"
COUNT = "count"
TIME_DOMAINS = (EVENT_TIME, PROCESSING_TIME, COUNT)


@dataclass(frozen=True)
class WindowOptions:
    spec: Any
    time: str
    timestamp: Any = None  # event time: callable record -> float
    out_of_orderness: float = 0.0  # event time: watermark = max timestamp seen - this
    # Event time over several inputs (a union that a join windows): ``side(record)`` is the
    # input index in [0, sides); the watermark trails the slowest input, not the fastest.
    side: Any = None
    sides: int = 0


def _positive(what: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
