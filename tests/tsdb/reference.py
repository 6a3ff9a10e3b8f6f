"""A pure-Python reference of the window aggregates, to compare the native core against."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def agg(values: Sequence[float], name: str, percentile: float = 50.0) -> float:
    v = np.asarray(values, dtype=np.float64)
    if name == "sum":
        return float(v.sum())
    if name == "avg":
        return float(v.mean())
    if name == "min":
        return float(v.min())
    if name == "max":
        return float(v.max())
    if name == "count":
        return float(len(v))
    if name == "first":
        return float(v[0])
    if name == "last":
        return float(v[-1])
    if name == "stddev":
        return float(v.std())
    if name == "percentile":
        return float(np.percentile(v, percentile))
    raise ValueError(name)


def ordered(ts: Sequence[int], values: Sequence[float]) -> list[tuple[int, float]]:
    """Points in time order; equal timestamps keep their arrival order."""
    return sorted(zip(ts, values, strict=True), key=lambda p: p[0])


def tumbling(points: list[tuple[int, float]], size: int, name: str, pct: float = 50.0) -> dict:
    buckets: dict[int, list[float]] = {}
    for t, v in points:
        buckets.setdefault(math.floor(t / size) * size, []).append(v)
    return {start: agg(vals, name, pct) for start, vals in sorted(buckets.items())}


def sliding(points: list[tuple[int, float]], size: int, slide: int, name: str) -> dict:
    if not points:
        return {}
    first, last = points[0][0], points[-1][0]
    k = math.floor((first - size) / slide) + 1
    out = {}
    while k * slide <= last:
        start = k * slide
        vals = [v for t, v in points if start <= t < start + size]
        if vals:
            out[start] = agg(vals, name)
        k += 1
    return out


def session(points: list[tuple[int, float]], gap: int, name: str) -> list[tuple[int, int, float]]:
    out = []
    run: list[tuple[int, float]] = []
    for p in points:
        if run and p[0] - run[-1][0] > gap:
            out.append((run[0][0], run[-1][0] + gap, agg([v for _, v in run], name)))
            run = []
        run.append(p)
    if run:
        out.append((run[0][0], run[-1][0] + gap, agg([v for _, v in run], name)))
    return out


def join(
    left: list[tuple[int, str, float]],
    right: list[tuple[int, str, float]],
    window: int,
) -> list[tuple[int, int, str]]:
    """Every (left_ts, right_ts, key) pair within the window (no events late), duplicates kept."""
    return [
        (lt, rt, lk)
        for lt, lk, _ in left
        for rt, rk, _ in right
        if lk == rk and abs(lt - rt) <= window
    ]
