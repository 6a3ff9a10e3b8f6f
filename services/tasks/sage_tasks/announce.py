"""python -m sage_tasks.announce: a task worker's registration in etcd, as every mesh member's.

A Celery worker serves no gRPC, yet it is a member of the mesh: `sage mesh status` lists it
under ``/sage/v1/services/tasks/<instance-id>`` (``sage_runtime.registration``: created only if
absent, under a lease renewed every TTL/3). Its address is the worker's Celery hostname
(``<instance-id>@<host>``, what a control ping names) and its metadata ``protocol: celery``.

It runs beside the worker's main process, not inside it: that process forks the pool's
children, and a gRPC client (etcd's) must not live in a process that forks. It revokes the
lease when told to stop (SIGTERM) or when the worker is gone (its parent changed); if both
die at once (``kill -9`` of the group) the lease expires after its TTL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

SERVICE = "tasks"
REGISTERED = "registered"  # the line the worker waits for on this process's stdout
POLL_S = 0.25


async def announce(args: argparse.Namespace) -> int:
    # imported here: the worker imports this module for REGISTERED, and gRPC stays out of it
    from sage_runtime.host import VERSION
    from sage_runtime.registration import EtcdRegistration, RegistrationError

    registration = EtcdRegistration(
        [e for e in args.etcd.split(",") if e],
        SERVICE,
        args.instance,
        args.address,
        VERSION,
        json.loads(args.metadata),
        args.ttl,
    )
    try:
        await registration.start()
    except RegistrationError as exc:
        print(f"sage-tasks: {exc}", file=sys.stderr, flush=True)
        return 1
    print(REGISTERED, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set() and os.getppid() == args.parent:
            try:
                await asyncio.wait_for(stop.wait(), POLL_S)
            except TimeoutError:
                pass
    finally:
        await registration.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sage-tasks-announce", description=__doc__)
    parser.add_argument("--etcd", required=True, help="etcd endpoints, comma separated")
    parser.add_argument("--instance", required=True, help="the worker's instance id")
    parser.add_argument("--address", required=True, help="the worker's Celery hostname")
    parser.add_argument("--ttl", type=float, default=10.0, help="lease TTL in seconds")
    parser.add_argument("--metadata", default="{}", help="JSON object published with it")
    parser.add_argument("--parent", type=int, required=True, help="the worker's pid")
    args = parser.parse_args(argv)
    return asyncio.run(announce(args))


if __name__ == "__main__":
    sys.exit(main())
