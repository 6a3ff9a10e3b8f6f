"""`sage extensions status|install`: SAGE's C++ extensions (sage_db, sage_flow, sage_tsdb) are
parts of one native core here, ``sage_native``; status reports its build and the CPU features
it runs with, install rebuilds it."""

from __future__ import annotations

import argparse
import json
import sys

from sage_cli import native_info


def _status(args: argparse.Namespace) -> int:
    status = native_info.native_status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0 if status["built"] else 1
    flags = ", ".join(status["cpu_flags"]) or "(unknown)"
    if not status["built"]:
        print(f"sage_native: NOT BUILT ({status['error']})")
        print(f"  cpu features: {flags}")
        print(f"  fix: {status['fix']}")
        return 1
    print(f"sage_native {status['version']}: built, {status['module']}")
    print(f"  faiss {status['faiss']}; distance kernels: {status['distance_kernels']}", end="")
    print(f"; flow joins: {status['flow_kernels']}" if "flow_kernels" in status else "")
    build = status.get("build") or {}
    if build:
        compiler = build.get("CMAKE_CXX_COMPILER", "?")
        extra = build.get("CMAKE_CXX_FLAGS") or "-"
        print(
            f"  build: {build.get('CMAKE_BUILD_TYPE', '?')} with {compiler} (extra flags {extra}), "
            f"in {build['build_dir']}"
        )
    print(f"  cpu features: {flags}")
    for name, ext in status["extensions"].items():
        state = "present" if ext["present"] else "absent " if ext["in_sources"] else "not yet"
        print(f"  {name:<10} {state}  {ext['what']}")
    if status.get("stale"):
        print(f"  STALE: sources changed after this build; fix: {status['fix']}")
    return 0


def _install(args: argparse.Namespace) -> int:
    if args.extension not in (None, "all", *native_info.EXTENSIONS):
        print(
            f"error: unknown extension {args.extension!r}; known: all, "
            + ", ".join(native_info.EXTENSIONS),
            file=sys.stderr,
        )
        return 2
    command = native_info.rebuild_command()
    print("rebuilding the native core (all of sage_db, sage_flow, sage_tsdb): " + " ".join(command))
    if args.dry_run:
        return 0
    try:
        code = native_info.rebuild()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if code != 0:
        print(
            f"error: the build failed (exit {code}); CMake names a missing package "
            "(scripts/apt-packages.txt lists them)",
            file=sys.stderr,
        )
        return 1
    print("rebuilt; `sage extensions status` shows it")
    return 0


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("extensions", help="the native core: build status, rebuild")
    sub = parser.add_subparsers(dest="action", required=True, metavar="VERB")
    status = sub.add_parser("status", help="the native core's build and CPU features")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)
    install = sub.add_parser("install", help="rebuild and reinstall the native core")
    install.add_argument(
        "extension", nargs="?", help="all, sage_db, sage_flow or sage_tsdb (one core: all of them)"
    )
    install.add_argument("--dry-run", action="store_true", help="print the build command only")
    install.set_defaults(func=_install)
