"""`sage mesh up|status|down`: run the mesh as local processes (server-side code in sage_deploy)."""

from __future__ import annotations

import argparse
import json
import sys


def register(groups: argparse._SubParsersAction) -> None:
    mesh = groups.add_parser("mesh", help="start, inspect and stop the mesh on this machine")
    sub = mesh.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("up", _up, "start etcd, Redis, the services and Envoy"),
        ("status", _status, "list registered instances with their health"),
        ("down", _down, "stop everything `up` started"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "--run-dir", default="run", help="where pids, logs and data live (default ./run)"
        )
        p.set_defaults(func=func)
        if name == "up":
            p.add_argument(
                "--ephemeral-ports",
                action="store_true",
                help="pick free ports instead of the topology's",
            )
            p.add_argument("--timeout", type=float, default=90.0)
            p.add_argument(
                "--etcd-members",
                type=int,
                default=None,
                choices=(1, 3, 5),
                help="etcd as a cluster of this many members on this host (3 survives one lost); "
                "default: what the run directory has, 1 for a new one",
            )
            p.add_argument(
                "--service", action="append", dest="services", help="start only these services"
            )
            p.add_argument(
                "--set",
                action="append",
                dest="settings",
                metavar="SERVICE.KEY=VALUE",
                help="configuration for one service, e.g. --set llm.backend=mock",
            )
        if name == "status":
            p.add_argument("--json", action="store_true")
        if name == "down":
            p.add_argument(
                "--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL"
            )


def _up(args: argparse.Namespace) -> int:
    from sage_deploy.launcher import Mesh, parse_settings
    from sage_deploy.processes import StartError

    print(f"bringing the mesh up in {args.run_dir}/ ...")
    try:
        mesh = Mesh(
            args.run_dir,
            ephemeral=args.ephemeral_ports,
            services=args.services,
            settings=parse_settings(args.settings),
            etcd_members=args.etcd_members,
        )
        endpoints = mesh.up(args.timeout)
    except (StartError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("mesh is up:")
    print(f"  gRPC front door (Envoy): {endpoints.envoy}")
    for name, address in sorted(endpoints.envoy_passthrough.items()):
        print(f"  {name + ' passthrough (Envoy L4):':<24} {address}")
    print(f"  etcd:                    {endpoints.etcd}")
    print(
        f"  redis:                   {endpoints.redis} (ACL users; passwords in the secrets file)"
    )
    print(
        f"  secrets:                 {endpoints.secrets} (mode 0600: tokens, etcd and Redis passwords)"
    )
    for name, address in sorted(endpoints.instances.items()):
        print(f"  {name + ':':<24} {address}")
    if any(name.startswith("studio-") for name in endpoints.instances):
        print(f"  Studio (web console):    http://{endpoints.envoy}/studio/ (docs/studio.md)")
    print(f"clients: export SAGE_ETCD_ENDPOINTS={endpoints.etcd}")
    print(f"stop it with: sage mesh down --run-dir {args.run_dir}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from sage_deploy.launcher import Mesh

    try:
        rows = Mesh(args.run_dir).status()
    except Exception as exc:  # noqa: BLE001 - etcd unreachable and the like
        print(
            f"error: cannot read the mesh state from etcd: {exc} (is it up? `sage mesh up`)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no instances registered")
    for r in rows:
        print(f"{r['service']:<8} {r['instance']:<18} {r['address']:<22} {r['health']}")
    return 0


def _down(args: argparse.Namespace) -> int:
    from sage_deploy.launcher import Mesh

    stopped = Mesh(args.run_dir).down(args.grace)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0
