"""Registration of a service instance in etcd under a lease.

Key: ``/sage/v1/services/<service>/<instance-id>``; value: JSON
``{address, version, started_at, metadata}``. The key is created only if absent
(a second process with the same instance id is refused), the lease is renewed
every TTL/3, and if renewal has failed for longer than the TTL the instance
re-registers; ``on_lost`` is told while it is unregistered so the host can stop
serving. A graceful stop revokes the lease, which removes the key at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aetcd

from sage_client.discovery import KEY_PREFIX, connect_etcd_any

log = logging.getLogger("sage.registration")


def service_key(service: str, instance_id: str) -> str:
    return f"{KEY_PREFIX}{service}/{instance_id}"


class RegistrationError(RuntimeError):
    """The instance could not be registered."""


class EtcdRegistration:
    def __init__(
        self,
        endpoints: list[str],
        service: str,
        instance_id: str,
        address: str,
        version: str,
        metadata: Mapping[str, Any],
        ttl_s: float,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self._endpoints = endpoints
        self.key = service_key(service, instance_id).encode()
        self._value = json.dumps(
            {
                "address": address,
                "version": version,
                "started_at": time.time(),
                "metadata": dict(metadata),
            }
        ).encode()
        self._ttl = max(2, int(round(ttl_s)))
        self._on_state = on_state or (lambda registered: None)
        self._client: aetcd.Client | None = None
        self._lease_id: int | None = None
        self._member = 0  # index in endpoints of the etcd member the client talks to
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()
        await self._register()
        self._task = asyncio.create_task(self._keepalive(), name="etcd-keepalive")

    async def _connect(self) -> None:
        """A client of the first etcd member that answers, from the one after the last used."""
        try:
            # with the etcd user of the mesh's secrets file when it has one (etcd with auth)
            self._client, self._member = await connect_etcd_any(
                self._endpoints, self._member, timeout=max(2, self._ttl // 3)
            )
        except (ConnectionError, ValueError) as exc:
            raise RegistrationError(f"cannot reach etcd: {exc}") from None

    async def _reconnect(self) -> None:
        """Drop the client (its member may be gone) and connect to the next member that answers."""
        old, self._client = self._client, None
        if old is not None:
            try:
                await old.close()
            except Exception:  # noqa: BLE001
                pass
        self._member += 1
        await self._connect()

    async def _register(self) -> None:
        assert self._client is not None
        lease = await self._client.lease(self._ttl)
        txn = self._client.transactions
        ok, _ = await self._client.transaction(
            compare=[txn.create(self.key) == 0],
            success=[txn.put(self.key, self._value, lease.id)],
            failure=[],
        )
        if not ok:
            await self._client.revoke_lease(lease.id)
            raise RegistrationError(
                f"{self.key.decode()} is already registered by a live instance; "
                "choose another instance_id"
            )
        self._lease_id = lease.id
        self._on_state(True)
        log.info(
            "registered in etcd", extra={"fields": {"key": self.key.decode(), "ttl_s": self._ttl}}
        )

    async def _keepalive(self) -> None:
        interval = self._ttl / 3
        last_ok = time.monotonic()
        registered = True
        while True:
            await asyncio.sleep(interval)
            try:
                if registered:
                    reply = await self._client.refresh_lease(self._lease_id)  # type: ignore[union-attr]
                    if reply is None or reply.TTL <= 0:
                        raise RegistrationError("lease expired")
                else:
                    try:
                        await self._register()
                    except Exception:
                        # a fresh connection (and auth token) for the next try
                        await self._reconnect()
                        raise
                    registered = True
                last_ok = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("etcd lease renewal failed: %s", exc)
                if registered and not isinstance(exc, RegistrationError):
                    # the member may be gone: the lease lives in the whole cluster, so the next
                    # renewal goes to another member of it
                    try:
                        await self._reconnect()
                    except Exception as again:  # noqa: BLE001
                        log.warning("no other etcd member answered: %s", again)
                if registered and time.monotonic() - last_ok > self._ttl:
                    registered = False
                    self._on_state(False)
                    log.error("registration lost for longer than the TTL; re-registering")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self._client is not None:
            try:
                if self._lease_id is not None:
                    await asyncio.wait_for(self._client.revoke_lease(self._lease_id), 2)
            except Exception as exc:  # noqa: BLE001
                log.warning("could not revoke lease: %s", exc)
            await self._client.close()
            self._client = None
