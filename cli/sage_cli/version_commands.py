"""`sage version [show]`: SAGE Mesh's version and the versions of what it runs on."""

from __future__ import annotations

import argparse
import json
import platform
from importlib import metadata

PACKAGE = "sage-mesh"


def versions() -> dict[str, str]:
    """This package, Python, and the native core (its own version and FAISS's)."""
    try:
        mesh = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        from sage_runtime.host import VERSION as mesh
    out = {"sage-mesh": mesh, "python": platform.python_version()}
    try:
        import sage_native

        out["sage_native"] = str(sage_native.__version__)
        out["faiss"] = str(sage_native.faiss_version)
    except ImportError:
        out["sage_native"] = "not built (sage extensions install)"
    return out


def _show(args: argparse.Namespace) -> int:
    found = versions()
    if args.json:
        print(json.dumps(found))
        return 0
    print(f"SAGE Mesh {found['sage-mesh']} (the SAGE CLI's commands, on a gRPC mesh)")
    for name, value in found.items():
        if name != "sage-mesh":
            print(f"  {name}: {value}")
    return 0


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("version", help="print the version of SAGE Mesh and its parts")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=_show)
    sub = parser.add_subparsers(dest="action", metavar="show")
    show = sub.add_parser("show", help="the same (SAGE's `sage version show`)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)
