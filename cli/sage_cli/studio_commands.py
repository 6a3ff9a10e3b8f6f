"""`sage studio start|stop|status|logs|restart|open`: SAGE Studio, the web console, run alone
(with etcd) or as part of `sage mesh up`, which serves it behind Envoy at /studio/.
`open` prints the page's address and opens it in a browser when one is at hand."""

from __future__ import annotations

import argparse
import json
import webbrowser
from pathlib import Path
from typing import Any

from sage_cli import settings as cli_settings
from sage_cli.service_verbs import ServiceVerbs


class _StudioVerbs(ServiceVerbs):
    def after_start(self, args: argparse.Namespace, info: dict[str, Any]) -> None:
        if not info.get("bundle", True):
            print("  note: the bundle is not built: run `bash scripts/build-studio.sh`")
        print(f"  page: {studio_url(args.run_dir, info['address'])}")


VERBS = _StudioVerbs(
    service="studio",
    title="Studio web console",
    command="sage studio",
    default_port=lambda s: int(s.get("studio", {}).get("port", 8090)),
    default_host=lambda s: s.get("studio", {}).get("host"),
    companions=("gateway", "kv", "llm"),
)


def studio_url(run_dir: str, address: str = "") -> str:
    """Studio's page: behind the mesh's Envoy when it runs here (the chat needs the gateway's
    /v1 on the same origin), else the instance's own address."""
    state = Path(run_dir) / "state.json"
    if state.exists() and (Path(run_dir) / "pids" / "envoy.pid").exists():
        port = json.loads(state.read_text())["ports"]["envoy"]
        return f"http://127.0.0.1:{port}/studio/"
    if not address:
        ready = Path(run_dir) / "ready" / "studio-0.json"
        if ready.exists():
            address = json.loads(ready.read_text())["address"]
    return f"http://{address}/studio/" if address else ""


def _open(args: argparse.Namespace) -> int:
    url = studio_url(args.run_dir)
    if not url:
        print("error: Studio is not running: `sage mesh up` or `sage studio start`")
        return 1
    print(url)
    if not args.print_only:
        webbrowser.open(url)
    return 0


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "studio", help="SAGE Studio, the web console: start, stop, status, logs, open"
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="VERB")
    VERBS.register(sub)
    defaults = cli_settings.load_or_defaults()
    p = sub.add_parser("open", help="print Studio's address and open it in a browser")
    p.add_argument("--run-dir", default=defaults["run_dir"])
    p.add_argument("--print-only", action="store_true", help="print the address, open nothing")
    p.set_defaults(func=_open)
