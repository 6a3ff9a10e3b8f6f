"""`sage kv get|put|del|scan` for people (discovery from SAGE_KV_ADDR or SAGE_ETCD_ENDPOINTS)."""

from __future__ import annotations

import argparse
import sys


def register(groups: argparse._SubParsersAction) -> None:
    kv = groups.add_parser("kv", help="read and write the KV service")
    kv.add_argument("--namespace", "-n", default="default")
    kv.add_argument("--address", help="host:port of a KV instance or of Envoy (default: discovery)")
    sub = kv.add_subparsers(dest="action", required=True)
    p = sub.add_parser("get", help="print a value")
    p.add_argument("key")
    p.set_defaults(func=_get)
    p = sub.add_parser("put", help="write a value")
    p.add_argument("key")
    p.add_argument("value")
    p.add_argument("--ttl", type=float, help="seconds until the key expires")
    p.add_argument("--expected-version", type=int, help="compare-and-set (0 = only if absent)")
    p.set_defaults(func=_put)
    p = sub.add_parser("del", help="delete a key")
    p.add_argument("key")
    p.set_defaults(func=_del)
    p = sub.add_parser("scan", help="list keys under a prefix")
    p.add_argument("prefix", nargs="?", default="")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=_scan)


def _client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from sage_client import KVClient

    return KVClient(args.namespace, address=args.address)


def _run(fn):  # type: ignore[no-untyped-def]
    from sage_client import SageError

    try:
        return fn()
    except SageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _get(args: argparse.Namespace) -> int:
    def go() -> int:
        entry = _client(args).get_entry(args.key)
        sys.stdout.buffer.write(entry.value + b"\n")
        return 0

    return _run(go)


def _put(args: argparse.Namespace) -> int:
    def go() -> int:
        version = _client(args).put(
            args.key, args.value, ttl=args.ttl, expected_version=args.expected_version
        )
        print(f"ok (version {version})")
        return 0

    return _run(go)


def _del(args: argparse.Namespace) -> int:
    def go() -> int:
        _client(args).delete(args.key)
        print("deleted")
        return 0

    return _run(go)


def _scan(args: argparse.Namespace) -> int:
    def go() -> int:
        for i, entry in enumerate(_client(args).scan(args.prefix)):
            if i >= args.limit:
                break
            print(f"{entry.key}\tv{entry.version}\t{entry.value[:80]!r}")
        return 0

    return _run(go)
