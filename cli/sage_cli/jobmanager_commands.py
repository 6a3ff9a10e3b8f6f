"""`sage jobmanager start|stop|status|restart|logs`: the kernel's job manager alone, with etcd.

It listens on 19001 by default (SAGE's JobManager port, where ``RemoteEnvironment`` looks);
``--port`` or ``jobmanager.port`` in ``~/.sage/config.yaml`` choose another.
"""

from __future__ import annotations

import argparse

from sage_cli.service_verbs import ServiceVerbs

VERBS = ServiceVerbs(
    service="kernel",
    title="job manager",
    command="sage jobmanager",
    default_port=lambda s: int(s["jobmanager"]["port"]),
    default_host=lambda s: s["jobmanager"].get("host"),
)


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "jobmanager", help="run the job manager (kernel) alone: start, stop, status, logs"
    )
    VERBS.register(parser.add_subparsers(dest="action", required=True, metavar="VERB"))
