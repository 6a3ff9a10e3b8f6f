"""`sage vdb create|ls|get|rm|upsert|search` (discovery from SAGE_VDB_ADDR or SAGE_ETCD_ENDPOINTS).

`upsert --file data.jsonl` reads one JSON object per line — ``{"id": ..., "vector": [...],
"metadata": {...}, "document": "..."}`` (``vector`` may be left out when the collection has an
embedding model) — and streams it to the service in batches.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any


def register(groups: argparse._SubParsersAction) -> None:
    vdb = groups.add_parser("vdb", help="manage and query the VDB service")
    vdb.add_argument(
        "--address", help="host:port of a VDB instance or of Envoy (default: discovery)"
    )
    sub = vdb.add_subparsers(dest="action", required=True)
    p = sub.add_parser("create", help="create a collection")
    p.add_argument("name")
    p.add_argument("--dimension", "-d", type=int, required=True)
    p.add_argument("--metric", choices=["cosine", "l2", "ip"], default="cosine")
    p.add_argument("--index", choices=["hnsw", "flat", "ivf"], default="hnsw")
    p.add_argument(
        "--embedding-model", default="", help="embed text documents and queries with this model"
    )
    p.add_argument("--durability", choices=["sync", "async"], default="sync")
    p.set_defaults(func=_create)
    p = sub.add_parser("ls", help="list collections")
    p.set_defaults(func=_ls)
    p = sub.add_parser("info", help="describe a collection with its statistics")
    p.add_argument("name")
    p.set_defaults(func=_info)
    p = sub.add_parser("rm", help="delete a collection")
    p.add_argument("name")
    p.set_defaults(func=_rm)
    p = sub.add_parser("upsert", help="load points from a JSON-lines file")
    p.add_argument("name")
    p.add_argument("--file", "-f", required=True, help="JSON lines ('-' = stdin)")
    p.add_argument("--batch-size", type=int, default=1000)
    p.set_defaults(func=_upsert)
    p = sub.add_parser("search", help="nearest neighbours of a vector (JSON list) or a text")
    p.add_argument("name")
    p.add_argument("--vector", help="query vector as a JSON list")
    p.add_argument(
        "--text", help="query text (embedded when the collection has a model; with --bm25, BM25)"
    )
    p.add_argument(
        "--bm25", action="store_true", help="rank --text by BM25 instead of embedding it"
    )
    p.add_argument("--top-k", "-k", type=int, default=10)
    p.add_argument("--where", help='metadata filter as JSON, e.g. \'{"year": {"$gte": 2020}}\'')
    p.set_defaults(func=_search)


def _client(args: argparse.Namespace) -> Any:
    from sage_client.vdb import VDBClient

    return VDBClient(address=args.address)


def _run(fn: Any) -> int:
    from sage_client import SageError

    try:
        return int(fn())
    except SageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _create(args: argparse.Namespace) -> int:
    def go() -> int:
        info = _client(args).create_collection(
            args.name,
            args.dimension,
            metric=args.metric,
            index=args.index,
            embedding_model=args.embedding_model,
            durability=args.durability,
        )
        print(
            f"created {info.name} (dimension {info.dimension}, {info.metric}, {info.index['type']})"
        )
        return 0

    return _run(go)


def _ls(args: argparse.Namespace) -> int:
    def go() -> int:
        for c in _client(args).list_collections():
            model = f"  model={c.embedding_model}" if c.embedding_model else ""
            print(f"{c.name}\t{c.count}\tdim={c.dimension}\t{c.metric}\t{c.index['type']}{model}")
        return 0

    return _run(go)


def _info(args: argparse.Namespace) -> int:
    def go() -> int:
        info = _client(args).get_collection(args.name)
        print(json.dumps(info.__dict__, indent=2, default=str))
        return 0

    return _run(go)


def _rm(args: argparse.Namespace) -> int:
    def go() -> int:
        _client(args).delete_collection(args.name)
        print(f"deleted {args.name}")
        return 0

    return _run(go)


def _read_batches(path: str, batch_size: int) -> Iterator[dict[str, Any]]:
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        batch: dict[str, list[Any]] = {"ids": [], "vectors": [], "metadatas": [], "documents": []}
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                batch["ids"].append(str(row["id"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ValueError(
                    f'{path}:{number}: expected a JSON object with an "id" '
                    '(and "vector", "metadata", "document")'
                ) from None
            if "vector" in row:
                batch["vectors"].append(row["vector"])
            batch["metadatas"].append(row.get("metadata") or {})
            batch["documents"].append(row.get("document") or "")
            if len(batch["ids"]) >= batch_size:
                yield _finish(batch, path)
                batch = {"ids": [], "vectors": [], "metadatas": [], "documents": []}
        if batch["ids"]:
            yield _finish(batch, path)
    finally:
        if stream is not sys.stdin:
            stream.close()


def _count_rows(path: str) -> int:
    """The points of a JSON-lines file (its non-blank lines), the total of the progress."""
    with open(path, encoding="utf-8") as stream:
        return sum(1 for line in stream if line.strip())


def _finish(batch: dict[str, list[Any]], path: str) -> dict[str, Any]:
    if batch["vectors"] and len(batch["vectors"]) != len(batch["ids"]):
        raise ValueError(f'{path}: some lines have a "vector" and some do not; give all or none')
    return {
        "ids": batch["ids"],
        "vectors": batch["vectors"] or None,
        "metadatas": batch["metadatas"],
        "documents": batch["documents"],
    }


def _upsert(args: argparse.Namespace) -> int:
    from sage_client.progress import track

    def go() -> int:
        total = None if args.file == "-" else _count_rows(args.file)
        batches = track(
            _read_batches(args.file, args.batch_size),
            f"upsert {args.name}",
            total=total,
            unit="points",
            size=lambda batch: len(batch["ids"]),
        )
        count = _client(args).upsert_stream(args.name, batches)
        print(f"upserted {count} points into {args.name}")
        return 0

    return _run(go)


def _search(args: argparse.Namespace) -> int:
    def go() -> int:
        vdb = _client(args)
        where = json.loads(args.where) if args.where else None
        include = ["metadatas", "documents"]
        if args.vector:
            results = vdb.search(
                args.name, [json.loads(args.vector)], top_k=args.top_k, where=where, include=include
            )
        elif args.text and args.bm25:
            results = vdb.search_text(
                args.name, [args.text], top_k=args.top_k, where=where, include=include
            )
        elif args.text:
            results = vdb.search(
                args.name, query_texts=[args.text], top_k=args.top_k, where=where, include=include
            )
        else:
            raise ValueError("give --vector or --text")
        r = results[0]
        for rank, point_id in enumerate(r.ids):
            doc = (r.documents or [""] * len(r.ids))[rank]
            meta = (r.metadatas or [{}] * len(r.ids))[rank]
            print(
                json.dumps(
                    {
                        "rank": rank + 1,
                        "id": point_id,
                        "score": r.scores[rank],
                        "metadata": meta,
                        "document": doc,
                    },
                    ensure_ascii=False,
                )
            )
        return 0

    return _run(go)
