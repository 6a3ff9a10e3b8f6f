"""`sage auth`: the mesh's credentials, for tools that are not the SDK (grpcurl, curl, browsers)."""

from __future__ import annotations

import argparse
import sys

from sage_client.credentials import (
    PRINCIPAL_ENV,
    CredentialsError,
    principal_token,
    principals,
    secrets_path,
)


def _token(args: argparse.Namespace) -> int:
    try:
        print(principal_token(args.principal, args.secrets))
    except CredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _principals(args: argparse.Namespace) -> int:
    path = args.secrets or secrets_path()
    if path is None:
        print(
            "error: no secrets file: set SAGE_SECRETS_FILE or run in the folder holding run/",
            file=sys.stderr,
        )
        return 2
    try:
        for p in principals(path):
            print(f"{p.name:<10} {', '.join(sorted(p.roles))}")
    except CredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("auth", help="the mesh's credentials (tokens of its principals)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    token = verbs.add_parser(
        "token",
        help="print a principal's bearer token (default admin): "
        "export SAGE_TOKEN=$(sage auth token)",
    )
    token.add_argument(
        "--principal",
        default="admin",
        help=f"principal name (default admin; {PRINCIPAL_ENV} selects the SDK's)",
    )
    token.add_argument(
        "--secrets", help="secrets file (default: SAGE_SECRETS_FILE, else run/secrets/mesh.json)"
    )
    token.set_defaults(func=_token)
    listing = verbs.add_parser("principals", help="list the principals and their roles (no tokens)")
    listing.add_argument("--secrets", help="secrets file")
    listing.set_defaults(func=_principals)
