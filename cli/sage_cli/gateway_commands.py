"""`sage gateway start|stop|status|logs|restart`: the OpenAI-compatible gateway alone (with etcd
and Redis, its rate-limit store). It finds KV (API keys, sessions) and LLM instances through etcd;
`start` names those not registered yet."""

from __future__ import annotations

import argparse
from typing import Any

from sage_cli.service_verbs import ServiceVerbs


def _missing_peers(args: argparse.Namespace) -> None:
    """After a start: the services the gateway calls that etcd does not list."""
    from sage_deploy.standalone import Standalone

    try:
        rows = Standalone("gateway", args.run_dir).mesh.status()
    except Exception:  # noqa: BLE001 - etcd unreadable: the start's own output said enough
        return
    present = {r["service"] for r in rows if r["health"] == "SERVING"}
    for service, need in (("kv", "API keys and sessions"), ("llm", "chat and completions")):
        if service not in present:
            print(
                f"  note: no {service} instance is serving yet ({need} need one): "
                f"`sage gateway restart --with {service}`"
                + (" or `sage llm serve`" if service == "llm" else "")
            )


class _GatewayVerbs(ServiceVerbs):
    def after_start(self, args: argparse.Namespace, info: dict[str, Any]) -> None:
        print(f"  liveness: curl http://{info['address']}/health")
        _missing_peers(args)


VERBS = _GatewayVerbs(
    service="gateway",
    title="gateway",
    command="sage gateway",
    default_port=lambda s: int(s["gateway"]["port"]),
    default_host=lambda s: s["gateway"].get("host"),
    companions=("kv", "llm", "memory", "vdb"),
)


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "gateway", help="run the OpenAI-compatible gateway alone: start, stop, status, logs"
    )
    VERBS.register(parser.add_subparsers(dest="action", required=True, metavar="VERB"))
