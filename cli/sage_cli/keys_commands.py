"""`sage keys create|ls|revoke`: the gateway's API keys, stored hashed in the KV service
(discovery from SAGE_KV_ADDR or SAGE_ETCD_ENDPOINTS, or --address)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def register(groups: argparse._SubParsersAction) -> None:
    keys = groups.add_parser("keys", help="API keys of the OpenAI-compatible gateway")
    keys.add_argument(
        "--address", help="host:port of a KV instance or of Envoy (default: discovery)"
    )
    sub = keys.add_subparsers(dest="action", required=True)
    p = sub.add_parser("create", help="create a key and print it (the only time it is shown)")
    p.add_argument("--user", required=True, help="owner of the sessions made with this key")
    p.add_argument("--name", default="", help="a label (default: the user)")
    p.add_argument(
        "--admin", action="store_true", help="may see every user's sessions and clean them up"
    )
    p.add_argument(
        "--rpm", type=int, default=0, help="requests per minute (0: the gateway's default)"
    )
    p.add_argument(
        "--tpm", type=int, default=0, help="tokens per minute (0: the gateway's default)"
    )
    p.add_argument("--json", action="store_true", help="print the key and its record as JSON")
    p.set_defaults(func=_create)
    p = sub.add_parser("ls", help="list keys (ids, never secrets)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_ls)
    p = sub.add_parser(
        "revoke", help="revoke a key by its id (gateways stop accepting it within key_cache_s)"
    )
    p.add_argument("id")
    p.set_defaults(func=_revoke)


def _store(args: argparse.Namespace) -> Any:
    from sage_client import KVClient
    from sage_client.api_keys import NAMESPACE, KeyStore

    return KeyStore(KVClient(NAMESPACE, address=args.address))


def _run(fn: Any) -> int:
    from sage_client import SageError

    try:
        return int(fn())
    except (SageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _create(args: argparse.Namespace) -> int:
    def go() -> int:
        secret, record = _store(args).create(
            args.name, args.user, admin=args.admin, rpm=args.rpm, tpm=args.tpm
        )
        if args.json:
            print(json.dumps({"key": secret, **record.__dict__}))
        else:
            print(f"id {record.id}  user {record.user}{'  admin' if record.admin else ''}")
            print(secret)
        return 0

    return _run(go)


def _ls(args: argparse.Namespace) -> int:
    def go() -> int:
        records = _store(args).list()
        if args.json:
            print(json.dumps([r.__dict__ for r in records]))
            return 0
        print(f"{'ID':<14}{'NAME':<20}{'USER':<20}{'ADMIN':<7}{'RPM':>7}{'TPM':>9}  CREATED")
        for r in records:
            created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.created_at))
            print(
                f"{r.id:<14}{r.name[:19]:<20}{r.user[:19]:<20}{'yes' if r.admin else 'no':<7}{r.rpm:>7}{r.tpm:>9}  {created}"
            )
        return 0

    return _run(go)


def _revoke(args: argparse.Namespace) -> int:
    def go() -> int:
        record = _store(args).revoke(args.id)
        print(f"revoked {record.id} ({record.name})")
        return 0

    return _run(go)
