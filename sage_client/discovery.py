"""Finding live service instances: static addresses or etcd.

``resolver_from_env()`` picks, per service, ``SAGE_<SERVICE>_ADDR=host:port,...``
when set (development, embedded setups), else etcd at ``SAGE_ETCD_ENDPOINTS``.

The etcd resolver lists ``/sage/v1/services/<service>/`` and then watches the
prefix from the listed revision, so an instance whose lease expires disappears
as soon as etcd deletes its key; after a compaction or a broken watch it lists
again. It runs on one background thread shared by every client of the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("sage_client.discovery")

# The one etcd key prefix of instances: registration, discovery and the deploy tools use it.
KEY_PREFIX = "/sage/v1/services/"


@dataclass(frozen=True)
class Instance:
    instance_id: str
    address: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    version: str = ""


class NoInstances(LookupError):
    """No live instance of a service is known."""


class Resolver:
    """Maps a service name to its live instances."""

    generation = 0  # bumped whenever any instance list changes

    def instances(self, service: str) -> list[Instance]:
        raise NotImplementedError

    def close(self) -> None:
        return None


class StaticResolver(Resolver):
    def __init__(self, addresses: Mapping[str, list[str]]) -> None:
        self._addresses = {
            k: [Instance(f"{k}-{i}", a) for i, a in enumerate(v)] for k, v in addresses.items()
        }

    def instances(self, service: str) -> list[Instance]:
        return list(self._addresses.get(service, ()))


def _split_endpoint(endpoint: str) -> tuple[str, int]:
    endpoint = endpoint.removeprefix("http://")
    host, _, port = endpoint.rpartition(":")
    return host or "127.0.0.1", int(port or 2379)


ETCD_CREDENTIALS_ENV = "SAGE_ETCD_CREDENTIALS"  # USER:PASSWORD (a job's read-only discovery)


def etcd_credentials(path: str | os.PathLike[str] | None = None) -> tuple[str, str] | None:
    """(user, password) for etcd from the mesh's secrets file (default: this process's, see
    ``sage_client.credentials``) when it has an ``etcd`` section; without a secrets file,
    ``SAGE_ETCD_CREDENTIALS`` (``USER:PASSWORD``: the job manager gives its workers the mesh's
    read-only discovery user this way); else None (anonymous)."""
    from sage_client.credentials import load_secrets, secrets_path

    path = path or secrets_path()
    if path is None:
        user, sep, password = os.environ.get(ETCD_CREDENTIALS_ENV, "").partition(":")
        return (user, password) if sep and user and password else None
    etcd = load_secrets(path).get("etcd")
    if not isinstance(etcd, dict) or not etcd.get("user") or not etcd.get("password"):
        return None
    return str(etcd["user"]), str(etcd["password"])


async def connect_etcd(
    host: str,
    port: int,
    timeout: float | None = 5,
    credentials: tuple[str, str] | None | bool = True,
) -> Any:
    """A connected ``aetcd.Client``, authenticated with ``credentials`` (True: the secrets file's,
    see ``etcd_credentials``). An etcd without auth enabled refuses to authenticate anyone
    ("authentication is not enabled"): then the client connects anonymously."""
    import aetcd

    creds = etcd_credentials() if credentials is True else credentials or None
    t = None if timeout is None else max(1, int(timeout))
    if creds is not None:
        client = aetcd.Client(host=host, port=port, username=creds[0], password=creds[1], timeout=t)
        try:
            await client.connect()
            return client
        except Exception as exc:
            await client.close()
            if "authentication is not enabled" not in str(exc):
                raise
    client = aetcd.Client(host=host, port=port, timeout=t)
    await client.connect()
    return client


def split_endpoints(endpoints: str | list[str]) -> list[str]:
    """``host:port`` endpoints from a comma-separated string or a list (blanks dropped)."""
    items = endpoints.split(",") if isinstance(endpoints, str) else endpoints
    return [e.strip() for e in items if e and e.strip()]


async def connect_etcd_any(
    endpoints: str | list[str],
    start: int = 0,
    timeout: float | None = 5,
    credentials: tuple[str, str] | None | bool = True,
) -> tuple[Any, int]:
    """A connected client of the first etcd member that answers, trying ``endpoints`` in turn from
    index ``start`` (a client that lost its member passes the next index); (client, its index).
    Every member of a cluster serves the same keys and leases, so any live one will do."""
    items = split_endpoints(endpoints)
    if not items:
        raise ValueError("no etcd endpoint given (host:port, comma-separated for a cluster)")
    errors = []
    for k in range(len(items)):
        index = (start + k) % len(items)
        host, port = _split_endpoint(items[index])
        client = None
        try:
            client = await connect_etcd(host, port, timeout=timeout, credentials=credentials)
            await client.status()  # the channel is lazy: ask the member, so a dead one is skipped
            return client, index
        except Exception as exc:  # noqa: BLE001 - any failure means try the next member
            errors.append(f"{items[index]}: {exc}")
            if client is not None:
                try:
                    await client.close()
                except Exception:  # noqa: BLE001
                    pass
    raise ConnectionError("no etcd member answered: " + "; ".join(errors))


class EtcdResolver(Resolver):
    def __init__(self, endpoints: list[str], initial_timeout_s: float = 5.0) -> None:
        if not endpoints:
            raise ValueError("EtcdResolver needs at least one etcd endpoint (host:port)")
        self._endpoints = endpoints
        self._timeout = initial_timeout_s
        self._lock = threading.Lock()
        self._services: dict[str, dict[str, Instance]] = {}
        self._ready: dict[str, threading.Event] = {}
        self._errors: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sage-discovery", daemon=True
        )
        self._thread.start()
        self._tasks: dict[str, Any] = {}

    def instances(self, service: str) -> list[Instance]:
        with self._lock:
            known = self._services.get(service)
            if known is not None:
                return list(known.values())
            ready = self._ready.get(service)
            if ready is None:
                ready = self._ready[service] = threading.Event()
                self._tasks[service] = asyncio.run_coroutine_threadsafe(
                    self._follow(service), self._loop
                )
        if not ready.wait(self._timeout):
            error = self._errors.get(service, "no answer")
            if "user name is empty" in error or "authentication failed" in error:
                error += (
                    " (this etcd wants the mesh's credentials: set SAGE_SECRETS_FILE to the mesh's "
                    "run/secrets/mesh.json, or run from the folder holding run/)"
                )
            raise NoInstances(
                f"could not list service {service!r} from etcd at {', '.join(self._endpoints)} within "
                f"{self._timeout:.0f}s: {error}"
            )
        with self._lock:
            return list(self._services.get(service, {}).values())

    def _apply(self, service: str, key: bytes, value: bytes | None) -> None:
        instance_id = key.decode().rsplit("/", 1)[-1]
        with self._lock:
            current = dict(self._services.get(service, {}))
            if value is None:
                current.pop(instance_id, None)
            else:
                try:
                    data = json.loads(value)
                    current[instance_id] = Instance(
                        instance_id,
                        data["address"],
                        data.get("metadata") or {},
                        data.get("version", ""),
                    )
                except (ValueError, KeyError):
                    log.warning("ignoring malformed registration %s", key)
            self._services[service] = current
            Resolver.generation += 1

    async def _follow(self, service: str) -> None:
        from aetcd.exceptions import RevisionCompactedError

        prefix = f"{KEY_PREFIX}{service}/".encode()
        delay = 0.2
        member = 0  # index of the etcd member followed; the next one after a failure
        while True:
            client = None
            try:
                client, member = await connect_etcd_any(self._endpoints, member, timeout=5)
                listing = await client.get_prefix(prefix)
                with self._lock:
                    self._services[service] = {}
                for kv in listing:
                    self._apply(service, kv.key, kv.value)
                with self._lock:
                    Resolver.generation += 1
                    self._services.setdefault(service, {})
                self._ready[service].set()
                delay = 0.2
                watch = await client.watch_prefix(
                    prefix, start_revision=listing.header.revision + 1
                )
                async for event in watch:
                    self._apply(
                        service, event.kv.key, None if event.kind == "DELETE" else event.kv.value
                    )
            except asyncio.CancelledError:
                raise
            except RevisionCompactedError:
                log.info("etcd compacted past our watch; listing %s again", service)
            except Exception as exc:  # noqa: BLE001 - keep the last known instances and retry
                self._errors[service] = str(exc) or type(exc).__name__
                log.warning("etcd watch for %s failed: %s", service, exc)
                member += 1  # a lost member: the next try starts at the next one
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if client is not None:
                    try:
                        await client.close()
                    except Exception:  # noqa: BLE001
                        pass

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)


class EnvResolver(Resolver):
    """Static addresses from SAGE_<SERVICE>_ADDR where set, etcd otherwise."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env
        self._etcd: EtcdResolver | None = None
        self._lock = threading.Lock()

    def instances(self, service: str) -> list[Instance]:
        static = self._env.get(f"SAGE_{service.upper()}_ADDR")
        if static:
            return [
                Instance(f"{service}-{i}", a.strip())
                for i, a in enumerate(static.split(","))
                if a.strip()
            ]
        endpoints = [
            e.strip() for e in self._env.get("SAGE_ETCD_ENDPOINTS", "").split(",") if e.strip()
        ]
        if not endpoints:
            raise NoInstances(
                f"no address for service {service!r}: set SAGE_{service.upper()}_ADDR=host:port "
                "or SAGE_ETCD_ENDPOINTS=host:port (or pass address= to the client)"
            )
        with self._lock:
            if self._etcd is None:
                self._etcd = EtcdResolver(endpoints)
        return self._etcd.instances(service)


_default: Resolver | None = None
_default_lock = threading.Lock()


def default_resolver() -> Resolver:
    """The process-wide resolver built from the environment."""
    global _default
    with _default_lock:
        if _default is None:
            _default = EnvResolver()
        return _default
