"""Progress of long work (bulk ingest, `sage vdb upsert --file`, model loading, evaluation runs,
`sage mesh up`): a bar redrawn in place on a terminal, plain lines elsewhere (logs, CI, pipes),
both with the count, the total when known, and the rate.

    with Progress("upsert", total=len(rows), unit="points") as progress:
        for batch in batches:
            send(batch)
            progress.advance(len(batch))

Not a terminal: one line when started, one at most every ``every_s`` seconds, one when done:

    upsert: 0/1000 points
    upsert: 400/1000 points (40%), 812.5 points/s
    upsert: done, 1000 points in 1.2 s (833.3 points/s)

Output goes to stderr unless ``stream`` is given, so stdout stays the command's answer.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

T = TypeVar("T")
BAR_WIDTH = 24


class Progress:
    """Counts done units of one piece of work and reports them (see the module's docstring)."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "items",
        stream: IO[str] | None = None,
        every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
    ) -> None:
        if total is not None and total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.every_s = every_s if not self.tty else 0.1
        self.clock = clock
        self.done = 0
        self.started = clock()
        self._last = self.started
        self._closed = False
        self._emit(self._status(), final=False)

    def advance(self, n: int = 1) -> None:
        """``n`` more units are done."""
        self.done += n
        now = self.clock()
        if now - self._last >= self.every_s:
            self._last = now
            self._emit(self._status(rate=True), final=False)

    def rate(self) -> float:
        elapsed = self.clock() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def close(self, note: str = "") -> None:
        """The work is over: the final line (count, time, rate), once."""
        if self._closed:
            return
        self._closed = True
        elapsed = self.clock() - self.started
        line = (
            f"{self.label}: done, {self.done} {self.unit} in {elapsed:.1f} s "
            f"({self.rate():.1f} {self.unit}/s)"
        )
        self._emit(line + (f", {note}" if note else ""), final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        self.close("" if kind is None else "stopped by an error")

    # -- output ---------------------------------------------------------------
    def _status(self, rate: bool = False) -> str:
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        text = f"{count} {self.unit}"
        if self.total:
            share = min(1.0, self.done / self.total)
            text += f" ({share:.0%})"
            if self.tty:
                filled = int(share * BAR_WIDTH)
                text = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text}"
        if rate:
            text += f", {self.rate():.1f} {self.unit}/s"
        return f"{self.label}: {text}"

    def _emit(self, line: str, final: bool) -> None:
        if self.tty:
            self.stream.write(f"\r\x1b[2K{line}" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def track(
    items: Iterable[T],
    label: str,
    total: int | None = None,
    unit: str = "items",
    size: Callable[[T], int] = lambda _item: 1,
    **options: object,
) -> Iterator[T]:
    """Yields ``items`` while reporting them (``size`` of each: e.g. the points of a batch)."""
    with Progress(label, total, unit, **options) as progress:  # type: ignore[arg-type]
        for item in items:
            yield item
            progress.advance(size(item))


class LineSink:
    """A stream for Progress that hands each complete line to ``emit`` (a logger, a callback)."""

    def __init__(self, emit: Callable[[str], object]) -> None:
        self.emit, self._partial = emit, ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self.emit(line)
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
