"""Keeps Envoy's EDS files equal to the instances registered in etcd.

    python -m sage_deploy.envoy_sync --etcd 127.0.0.1:2379 --eds-dir RUN/eds kv vdb ...

Lists ``/sage/v1/services/``, writes one file per service, then applies every
watch event as it arrives; re-lists after a broken watch or a compaction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from pathlib import Path

from sage_client.discovery import KEY_PREFIX, connect_etcd_any
from sage_deploy.envoy_config import write_eds

PREFIX = KEY_PREFIX.encode()
log = logging.getLogger("sage.envoy_sync")


def _parse(key: bytes) -> tuple[str, str]:
    service, _, instance = key[len(PREFIX) :].decode().partition("/")
    return service, instance


async def sync(endpoint: str, eds_dir: Path, services: list[str]) -> None:
    member = 0  # endpoint: one etcd member or a comma-separated cluster; the next after a failure
    for service in services:  # an empty file first, so Envoy starts with every cluster defined
        write_eds(eds_dir, service, [])
    while True:
        client = None
        try:
            client, member = await connect_etcd_any(endpoint, member, timeout=5)
            table: dict[str, dict[str, str]] = {s: {} for s in services}
            listing = await client.get_prefix(PREFIX)
            for kv in listing:
                service, instance = _parse(kv.key)
                if service in table:  # members Envoy routes nothing to (task workers) stay out
                    table[service][instance] = json.loads(kv.value)["address"]
            for service, instances in table.items():
                write_eds(eds_dir, service, instances.values())
            log.info("synced %s", {s: len(i) for s, i in table.items()})
            watch = await client.watch_prefix(PREFIX, start_revision=listing.header.revision + 1)
            async for event in watch:
                service, instance = _parse(event.kv.key)
                if service not in table:
                    continue
                if event.kind == "DELETE":
                    table.setdefault(service, {}).pop(instance, None)
                else:
                    table.setdefault(service, {})[instance] = json.loads(event.kv.value)["address"]
                write_eds(eds_dir, service, table[service].values())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the files, retry
            log.warning("etcd watch failed (%s); retrying", exc)
            member += 1
            await asyncio.sleep(0.5)
        finally:
            try:
                if client is not None:
                    await client.close()
            except Exception:  # noqa: BLE001
                pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--etcd",
        required=True,
        help="etcd endpoint host:port (comma-separated: every member of a cluster)",
    )
    parser.add_argument("--eds-dir", required=True, type=Path)
    parser.add_argument("services", nargs="+")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s envoy-sync %(levelname)s %(message)s"
    )

    async def run() -> None:
        task = asyncio.create_task(sync(args.etcd, args.eds_dir, args.services))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(run())


if __name__ == "__main__":
    main()
