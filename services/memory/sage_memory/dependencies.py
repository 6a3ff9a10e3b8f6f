"""The memory service's three dependencies (KV, VDB, LLM), found by discovery, and the
mapping of their failures to this service's statuses.

An unreachable dependency becomes UNAVAILABLE naming it; a filter the VDB rejects becomes
INVALID_ARGUMENT on ``where``; anything else a dependency says is passed on as it is.
"""
from __future__ import annotations

import os
from collections.abc import Awaitable
from typing import Any, TypeVar

from sage_client.channels import AsyncServiceChannels
from sage_client.discovery import EnvResolver, Resolver
from sage_client.errors import (
    AlreadyExists,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    SageError,
    Unavailable,
)
from sage_memory.config import MemoryConfig
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc
from sage_proto.llm.v1 import llm_pb2, llm_pb2_grpc
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc
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
        service, f"the {service.upper()} service is unavailable ({exc}); the memory service needs KV, VDB and "
                 "LLM — retry once it is back")


class Dependencies:
    """Channels to KV, VDB and LLM; ``call`` runs one RPC and maps its failure."""

    def __init__(self, config: MemoryConfig) -> None:
        self.config = config
        resolver = resolver_for(config)
        timeout = config.dependency_timeout_s
        self.kv = AsyncServiceChannels("kv", kv_pb2_grpc.KVServiceStub, resolver=resolver, timeout=timeout)
        self.vdb = AsyncServiceChannels("vdb", vdb_pb2_grpc.VDBServiceStub, resolver=resolver, timeout=timeout)
        self.llm = AsyncServiceChannels("llm", llm_pb2_grpc.LLMServiceStub, resolver=resolver, timeout=timeout)
        self.collection_ready = False

    async def call(self, service: str, method: str, request: Any, *, idempotent: bool = True,
                   passthrough: tuple[type[SageError], ...] = ()) -> Any:
        channels: AsyncServiceChannels[Any] = getattr(self, service)
        try:
            return await channels.call(method, request, idempotent=idempotent)
        except passthrough:
            raise
        except (Unavailable, DeadlineExceeded) as exc:
            raise unavailable(service, exc) from None
        except InvalidArgument as exc:
            if service == "vdb" and method in ("Search", "DeletePoints"):
                raise err.invalid_argument("where", f"the filter was rejected: {exc.message}") from None
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
            await self.call("vdb", "GetCollection", vdb_pb2.GetCollectionRequest(name=cfg.collection),
                            passthrough=(NotFound,))
        except NotFound:
            collection = vdb_pb2.Collection(name=cfg.collection, dimension=cfg.dimension,
                                            metric=vdb_pb2.METRIC_COSINE)
            try:
                await self.call("vdb", "CreateCollection", vdb_pb2.CreateCollectionRequest(collection=collection),
                                idempotent=False, passthrough=(AlreadyExists,))
            except AlreadyExists:
                pass
        self.collection_ready = True

    async def reachable(self) -> bool:
        """True once KV, VDB (with the collection) and LLM answer."""
        try:
            await self.call("kv", "Get", kv_pb2.GetRequest(namespace=self.config.kv_namespace, key="probe"),
                            passthrough=(NotFound,))
        except NotFound:
            pass
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False
        # Checked every time: a VDB that restarted empty needs the collection again.
        self.collection_ready = False
        try:
            await self.ensure_collection()
            await self.call("llm", "ListModels", llm_pb2.ListModelsRequest())
        except Exception:  # noqa: BLE001
            return False
        return True

    async def close(self) -> None:
        for channels in (self.kv, self.vdb, self.llm):
            await channels.close()


def _passed_on(service: str, exc: SageError) -> err.ServiceError:
    code = exc.code
    if code is None:
        return err.backend_unavailable(service, f"{service} failed: {exc}")
    return err.ServiceError(code, f"{service}: {exc.message}", 0,
                            metadata={"backend": service})


async def guarded(coro: Awaitable[T]) -> T | None:
    """Best-effort cleanup: its failure must not hide the error being reported."""
    try:
        return await coro
    except Exception:  # noqa: BLE001
        return None
