"""The memory service's three dependencies (KV, VDB, LLM), found by discovery, and the
mapping of their failures to this service's statuses.

An unreachable dependency becomes UNAVAILABLE naming it; a filter the VDB rejects becomes
INVALID_ARGUMENT on ``where``; anything else a dependency says is passed on as it is.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from typing import TypeVar

from sage_client.discovery import EnvResolver, Resolver
from sage_client.errors import (
    AlreadyExists,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    SageError,
    Unavailable,
)
from sage_client.kv import AsyncKVClient
from sage_client.llm.client import AsyncLLMClient
from sage_client.vdb import AsyncVDBClient
from sage_memory.config import MemoryConfig
from sage_runtime import errors as err

T = TypeVar("T")
SERVICES = ("kv", "vdb", "llm")


def resolver_for(config: MemoryConfig) -> Resolver:
    """SAGE_<SERVICE>_ADDR (or the config's *_address) first, else etcd at the service's endpoints."""
    env = {k: v for k, v in os.environ.items() if k.endswith("_ADDR")}
    for name in SERVICES:
        static = getattr(config, f"{name}_address")
        if static:
            env[f"SAGE_{name.upper()}_ADDR"] = static
    if config.etcd_endpoints:
        env["SAGE_ETCD_ENDPOINTS"] = ",".join(config.etcd_endpoints)
    return EnvResolver(env)


def unavailable(service: str, exc: Exception) -> err.ServiceError:
    return err.backend_unavailable(
        service,
        f"the {service.upper()} service is unavailable ({exc}); the memory service needs KV, VDB and "
        "LLM — retry once it is back",
    )


class Dependencies:
    """The typed clients of KV (in the memory namespace), VDB and LLM; ``call`` awaits one of
    their calls and maps its failure."""

    def __init__(self, config: MemoryConfig) -> None:
        self.config = config
        resolver = resolver_for(config)
        timeout = config.dependency_timeout_s
        self.kv = AsyncKVClient(config.kv_namespace, resolver=resolver, timeout=timeout)
        self.vdb = AsyncVDBClient(resolver=resolver, timeout=timeout)
        self.llm = AsyncLLMClient(resolver=resolver, timeout=timeout)
        self.collection_ready = False

    async def call(
        self,
        service: str,
        call: Awaitable[T],
        *,
        passthrough: tuple[type[SageError], ...] = (),
        filtered: bool = False,
    ) -> T:
        """Await ``call`` (a call of the ``service`` client); ``filtered``: it carries a ``where``
        filter, which an INVALID_ARGUMENT from the VDB is about."""
        try:
            return await call
        except passthrough:
            raise
        except (Unavailable, DeadlineExceeded) as exc:
            raise unavailable(service, exc) from None
        except InvalidArgument as exc:
            if filtered:
                raise err.invalid_argument(
                    "where", f"the filter was rejected: {exc.message}"
                ) from None
            raise _passed_on(service, exc) from None
        except SageError as exc:
            raise _passed_on(service, exc) from None

    # -- readiness ------------------------------------------------------------
    async def ensure_collection(self) -> None:
        """Create the memory collection when it does not exist yet (cosine, HNSW)."""
        if self.collection_ready:
            return
        cfg = self.config
        try:
            await self.call("vdb", self.vdb.get_collection(cfg.collection), passthrough=(NotFound,))
        except NotFound:
            try:
                await self.call(
                    "vdb",
                    self.vdb.create_collection(
                        cfg.collection,
                        cfg.dimension,
                        metric="cosine",
                        index="hnsw",
                        durability=None,
                    ),
                    passthrough=(AlreadyExists,),
                )
            except AlreadyExists:
                pass
        self.collection_ready = True

    async def reachable(self) -> bool:
        """True once KV, VDB (with the collection) and LLM answer."""
        try:
            await self.call("kv", self.kv.get_entry("probe"), passthrough=(NotFound,))
        except NotFound:
            pass
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False
        # Checked every time: a VDB that restarted empty needs the collection again.
        self.collection_ready = False
        try:
            await self.ensure_collection()
            await self.call("llm", self.llm.models())
        except Exception:  # noqa: BLE001
            return False
        return True

    async def close(self) -> None:
        await self.kv.close()
        await self.vdb.close()
        await self.llm.close()


def _passed_on(service: str, exc: SageError) -> err.ServiceError:
    code = exc.code
    if code is None:
        return err.backend_unavailable(service, f"{service} failed: {exc}")
    return err.ServiceError(code, f"{service}: {exc.message}", 0, metadata={"backend": service})


async def guarded(coro: Awaitable[T]) -> T | None:
    """Best-effort cleanup: its failure must not hide the error being reported."""
    try:
        return await coro
    except Exception:  # noqa: BLE001
        return None
