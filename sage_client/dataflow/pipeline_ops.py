"""The functions behind ``sage_client.pipeline_spec``'s catalogue: plain, importable by name on
any worker (a job ships them by reference, never as code from the spec's author)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def numbers(start: int, stop: int) -> range:
    return range(start, stop)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def upper(x: Any) -> str:
    return str(x).upper()


def lower(x: Any) -> str:
    return str(x).lower()


def length(x: Any) -> int:
    return len(str(x))


def split_words(x: Any) -> list[str]:
    return str(x).split()


def collect(x: Any) -> None:
    """A sink that keeps nothing itself: the job manager keeps what reaches sinks when the job
    is submitted with collect_result (``sage pipeline run`` collects locally)."""


def show(x: Any) -> None:
    print(x, flush=True)


def _number(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise TypeError(f"expected a number, got {type(x).__name__} {x!r}")
    return x


@dataclass(frozen=True)
class Multiply:
    factor: float

    def __call__(self, x: Any) -> float:
        return _number(x) * self.factor


@dataclass(frozen=True)
class Add:
    amount: float

    def __call__(self, x: Any) -> float:
        return _number(x) + self.amount


@dataclass(frozen=True)
class GreaterThan:
    threshold: float

    def __call__(self, x: Any) -> bool:
        return _number(x) > self.threshold


@dataclass(frozen=True)
class Contains:
    text: str

    def __call__(self, x: Any) -> bool:
        return self.text in str(x)


@dataclass(frozen=True)
class Chunk:
    size: int
    overlap: int

    def __call__(self, x: Any) -> list[str]:
        text = str(x)
        step = max(1, self.size - self.overlap)
        return [text[i : i + self.size] for i in range(0, max(len(text) - self.overlap, 1), step)]
