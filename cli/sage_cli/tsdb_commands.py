"""`sage tsdb write|query|agg` for people (discovery from SAGE_TSDB_ADDR or SAGE_ETCD_ENDPOINTS).

sage tsdb write cpu 1700000000000=0.5 1700000001000=0.7 --tag host=a
sage tsdb query cpu --filter 'host=a' --start 1700000000000
sage tsdb agg cpu --window 60000 --agg avg --group-by host
"""

from __future__ import annotations

import argparse
import json
import sys


def register(groups: argparse._SubParsersAction) -> None:
    tsdb = groups.add_parser("tsdb", help="write and query the time-series service")
    tsdb.add_argument("--address", help="host:port of a TSDB instance (default: discovery)")
    sub = tsdb.add_subparsers(dest="action", required=True)
    p = sub.add_parser("write", help="write points TIMESTAMP_MS=VALUE")
    p.add_argument("metric")
    p.add_argument("points", nargs="+", help="TIMESTAMP_MS=VALUE")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE (repeatable)")
    p.set_defaults(func=_write)
    p = sub.add_parser("query", help="print raw points as JSON lines")
    p.add_argument("metric")
    _range_args(p)
    p.add_argument("--limit", type=int, default=1000)
    p.set_defaults(func=_query)
    p = sub.add_parser("agg", help="print window aggregates as JSON lines")
    p.add_argument("metric")
    _range_args(p)
    p.add_argument("--window", type=int, default=60_000, help="window size in ms")
    p.add_argument("--type", default="tumbling", choices=["tumbling", "sliding", "session"])
    p.add_argument("--slide", type=int, default=0)
    p.add_argument("--gap", type=int, default=0, help="session gap in ms")
    p.add_argument("--agg", default="avg")
    p.add_argument("--percentile", type=float, default=50.0)
    p.add_argument("--interpolation", default="none")
    p.add_argument("--group-by", action="append", default=[])
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(func=_agg)


def _range_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", default="", help="tag filter, e.g. 'host=a AND region=eu'")
    p.add_argument("--start", type=int, help="first millisecond (inclusive)")
    p.add_argument("--end", type=int, help="last millisecond (exclusive)")


def _client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from sage_client.tsdb import TSDBClient

    return TSDBClient(address=args.address)


def _run(fn):  # type: ignore[no-untyped-def]
    from sage_client import SageError

    try:
        return fn()
    except SageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: {what} {item!r} is not KEY=VALUE")
        out.append((key, value))
    return out


def _write(args: argparse.Namespace) -> int:
    points = _pairs(args.points, "point")
    try:
        ts = [int(t) for t, _ in points]
        values = [float(v) for _, v in points]
    except ValueError:
        print("error: points are TIMESTAMP_MS=VALUE (integer ms, number)", file=sys.stderr)
        return 2
    tags = dict(_pairs(args.tag, "tag"))

    def go() -> int:
        with _client(args) as tsdb:
            r = tsdb.write_points(args.metric, ts, values, tags=tags)
        print(f"written {r.points_written}, dropped {r.points_dropped}")
        return 0

    return int(_run(go))


def _query(args: argparse.Namespace) -> int:
    def go() -> int:
        with _client(args) as tsdb:
            found = tsdb.query(
                args.metric,
                tag_filter=args.filter,
                start=args.start,
                end=args.end,
                limit=args.limit,
            )
        for s in found:
            for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True):
                print(json.dumps({"tags": s.tags, "timestamp_ms": t, "value": v}))
        return 0

    return int(_run(go))


def _agg(args: argparse.Namespace) -> int:
    def go() -> int:
        with _client(args) as tsdb:
            groups = tsdb.window_aggregate(
                args.metric,
                window_size_ms=args.window if args.type != "session" else 0,
                window_type=args.type,
                slide_ms=args.slide,
                session_gap_ms=args.gap,
                aggregation=args.agg,
                percentile=args.percentile,
                interpolation=args.interpolation,
                group_by=args.group_by,
                tag_filter=args.filter,
                start=args.start,
                end=args.end,
                limit=args.limit,
            )
        for g in groups:
            for s, e, v, c in zip(
                g.start.tolist(), g.end.tolist(), g.values.tolist(), g.counts.tolist(), strict=True
            ):
                row = {"group": g.group, "start_ms": s, "end_ms": e, "value": v, "count": c}
                print(json.dumps(row))
        return 0

    return int(_run(go))
