"""`sage memory store|search|get|list|delete` (discovery from SAGE_MEMORY_ADDR or SAGE_ETCD_ENDPOINTS)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def register(groups: argparse._SubParsersAction) -> None:
    memory = groups.add_parser("memory", help="store and search memories")
    memory.add_argument(
        "--address", help="host:port of a memory instance or of Envoy (default: discovery)"
    )
    sub = memory.add_subparsers(dest="action", required=True)
    p = sub.add_parser("store", help="remember a text in a session")
    p.add_argument("session")
    p.add_argument("content")
    p.add_argument("--metadata", "-m", help='JSON object, e.g. \'{"topic": "food"}\'')
    p.add_argument("--idempotency-key", help="a retry with the same key stores once")
    p.set_defaults(func=_store)
    p = sub.add_parser("search", help="memories closest to a query")
    p.add_argument("query")
    p.add_argument("--session", default="", help="restrict to one session (default: all)")
    p.add_argument("--top-k", "-k", type=int, default=5)
    p.add_argument("--where", help='metadata filter as JSON, e.g. \'{"topic": "food"}\'')
    p.add_argument(
        "--recency-weight", type=float, default=0.0, help="0 = similarity only, 1 = recency only"
    )
    p.set_defaults(func=_search)
    p = sub.add_parser("get", help="print one memory")
    p.add_argument("id")
    p.set_defaults(func=_get)
    p = sub.add_parser("list", help="a session's memories, newest first")
    p.add_argument("session")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=_list)
    p = sub.add_parser("delete", help="delete a memory (or a whole session with --session)")
    p.add_argument("id", nargs="?")
    p.add_argument("--session", help="delete every memory of this session")
    p.set_defaults(func=_delete)


def _json_object(text: str | None, option: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise SystemExit(
            f'error: {option} is not valid JSON ({exc}); pass an object like \'{{"topic": "food"}}\''
        ) from None
    if not isinstance(value, dict):
        raise SystemExit(f"error: {option} must be a JSON object, not {type(value).__name__}")
    return value


def _line(m: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(m["create_time"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    score = f"{m['score']:.3f}\t" if "score" in m else ""
    meta = f"\t{json.dumps(m['metadata'], ensure_ascii=False)}" if m["metadata"] else ""
    return f"{score}{m['id']}\t{m['session_id']}\t{when}\t{m['content']}{meta}"


def _run(args: argparse.Namespace, body: Callable[[Any], int]) -> int:
    from sage_client import SageError
    from sage_client.memory import MemoryClient

    try:
        with MemoryClient(address=args.address) as client:
            return body(client)
    except (SageError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _store(args: argparse.Namespace) -> int:
    metadata = _json_object(args.metadata, "--metadata")

    def go(client: Any) -> int:
        m = client.store_memory(
            args.session, args.content, metadata, idempotency_key=args.idempotency_key
        )
        print(m["id"])
        return 0

    return _run(args, go)


def _search(args: argparse.Namespace) -> int:
    where = _json_object(args.where, "--where")

    def go(client: Any) -> int:
        hits = client.search_memories(
            args.query,
            session_id=args.session,
            top_k=args.top_k,
            where=where,
            recency_weight=args.recency_weight,
        )
        for hit in hits:
            print(_line(hit))
        return 0

    return _run(args, go)


def _get(args: argparse.Namespace) -> int:
    def go(client: Any) -> int:
        print(json.dumps(client.get_memory(args.id), ensure_ascii=False))
        return 0

    return _run(args, go)


def _list(args: argparse.Namespace) -> int:
    def go(client: Any) -> int:
        for i, m in enumerate(client.list_session_memories(args.session)):
            if i >= args.limit:
                break
            print(_line(m))
        return 0

    return _run(args, go)


def _delete(args: argparse.Namespace) -> int:
    if bool(args.id) == bool(args.session):
        print("error: give a memory id or --session SESSION (not both)", file=sys.stderr)
        return 2

    def go(client: Any) -> int:
        if args.session:
            print(f"deleted {client.delete_session(args.session)} memories")
        else:
            client.delete_memory(args.id)
            print("deleted")
        return 0

    return _run(args, go)
