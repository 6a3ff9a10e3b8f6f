"""sage_client.progress: plain lines with counts and rates off a terminal, a bar redrawn in place
on one."""

from __future__ import annotations

import io

import pytest

from sage_client.progress import Progress, track


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_with_counts_and_rates_when_not_a_terminal() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress("upsert", total=1000, unit="points", stream=out, every_s=5, clock=clock) as p:
        clock.now += 2
        p.advance(300)  # under every_s since the start: no line
        clock.now += 3
        p.advance(100)  # 5 s: a line, 400 points in 5 s
        clock.now += 5
        p.advance(600)
    assert out.getvalue().splitlines() == [
        "upsert: 0/1000 points (0%)",
        "upsert: 400/1000 points (40%), 80.0 points/s",
        "upsert: 1000/1000 points (100%), 100.0 points/s",
        "upsert: done, 1000 points in 10.0 s (100.0 points/s)",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_without_a_total_the_count_alone() -> None:
    out, clock = io.StringIO(), Clock()
    items = list(track(range(3), "ingest", unit="docs", stream=out, clock=clock, every_s=0))
    assert items == [0, 1, 2]
    lines = out.getvalue().splitlines()
    assert lines[0] == "ingest: 0 docs"
    assert lines[-1].startswith("ingest: done, 3 docs in 0.0 s")


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress("load", total=4, unit="files", stream=out, clock=clock, tty=True)
    clock.now += 1
    p.advance(2)
    p.close()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, redrawn with \r
    assert "[############............] 2/4 files (50%), 2.0 files/s" in text


def test_an_error_is_said_in_the_last_line() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress("eval", total=2, stream=out):
        raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1].endswith("stopped by an error")


def test_a_negative_total_is_refused() -> None:
    with pytest.raises(ValueError, match="total must be >= 0"):
        Progress("x", total=-1, stream=io.StringIO())
