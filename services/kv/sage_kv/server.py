"""The KVService servicer: validates requests at the edge and maps backend
failures to gRPC statuses."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from sage_kv.backends import BackendUnavailable, KVBackend, VersionMismatch, create_backend
from sage_kv.config import KVConfig
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc
from sage_runtime import ServiceSpec
from sage_runtime import errors as err
from sage_runtime.auth import check_resource
from sage_runtime.paging import decode_key_token, encode_key_token

MAX_NAMESPACE = 256
MAX_PAGE = 1000
DEFAULT_PAGE = 100
PAGE_BYTES = 4 * 1024 * 1024  # a Scan page holds at most this many bytes of keys and values


class KVServicer(kv_pb2_grpc.KVServiceServicer):
    def __init__(self, backend: KVBackend, config: KVConfig) -> None:
        self.backend = backend
        self._max_key = config.max_key_bytes
        self._max_value = config.max_value_bytes
        self._max_batch = config.max_batch_keys
        self._page_bytes = min(PAGE_BYTES, config.max_message_bytes // 4)

    # -- validation ---------------------------------------------------------
    def _ns(self, ns: str) -> str:
        if not ns or len(ns) > MAX_NAMESPACE or "\0" in ns:
            raise err.invalid_argument(
                "namespace",
                f"namespace must be 1..{MAX_NAMESPACE} characters without NUL; got {ns[:40]!r}",
            )
        check_resource("kv", ns)
        return ns

    def _key(self, key: str, field: str = "key") -> str:
        if not key:
            raise err.invalid_argument(field, f"{field} must not be empty")
        if len(key) * 4 > self._max_key and len(key.encode()) > self._max_key:
            raise err.limit_exceeded(
                field,
                f"{field} is {len(key.encode())} bytes; the limit is {self._max_key} bytes",
                self._max_key,
            )
        return key

    def _value(self, value: bytes, field: str = "value") -> bytes:
        if len(value) > self._max_value:
            raise err.limit_exceeded(
                field,
                f"{field} is {len(value)} bytes; the limit is {self._max_value} bytes "
                "(max_value_bytes)",
                self._max_value,
            )
        return value

    def _ttl(self, ttl_ms: int) -> int:
        if ttl_ms < 0:
            raise err.invalid_argument(
                "ttl_ms", f"ttl_ms must be >= 0 (0 = no expiry); got {ttl_ms}"
            )
        return ttl_ms

    def _batch(self, requested: Iterable[str], field: str = "keys") -> list[str]:
        keys = list(requested)
        if len(keys) > self._max_batch:
            raise err.limit_exceeded(
                field,
                f"{len(keys)} keys in one call; the limit is {self._max_batch}",
                self._max_batch,
            )
        for i, key in enumerate(keys):
            self._key(key, f"{field}[{i}]")
        return keys

    @staticmethod
    def _unavailable(exc: BackendUnavailable) -> err.ServiceError:
        return err.backend_unavailable(
            "redis", f"{exc}; the call can be retried once the store is back"
        )

    # -- RPCs ---------------------------------------------------------------
    async def Get(
        self, request: kv_pb2.GetRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.GetResponse:
        ns, key = self._ns(request.namespace), self._key(request.key)
        try:
            entry = await self.backend.get(ns, key)
        except BackendUnavailable as exc:
            raise self._unavailable(exc) from None
        if entry is None:
            raise err.not_found(f"key {key!r} not found in namespace {ns!r}", namespace=ns, key=key)
        return kv_pb2.GetResponse(
            entry=kv_pb2.Entry(
                key=key, value=entry.value, version=entry.version, ttl_ms=entry.ttl_ms
            )
        )

    async def Put(
        self, request: kv_pb2.PutRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.PutResponse:
        ns, key = self._ns(request.namespace), self._key(request.key)
        value, ttl = self._value(request.value), self._ttl(request.ttl_ms)
        expected = request.expected_version if request.HasField("expected_version") else None
        try:
            version = await self.backend.put(ns, key, value, ttl, expected)
        except VersionMismatch as exc:
            raise err.version_mismatch(
                f"compare-and-set failed for key {key!r}: expected version {expected}, current version is "
                f"{exc.current_version}",
                exc.current_version,
            ) from None
        except BackendUnavailable as exc:
            raise self._unavailable(exc) from None
        return kv_pb2.PutResponse(version=version)

    async def Delete(
        self, request: kv_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.DeleteResponse:
        ns, key = self._ns(request.namespace), self._key(request.key)
        expected = request.expected_version if request.HasField("expected_version") else None
        try:
            deleted = await self.backend.delete(ns, key, expected)
        except VersionMismatch as exc:
            raise err.version_mismatch(
                f"compare-and-delete failed for key {key!r}: expected version {expected}, current version is "
                f"{exc.current_version}",
                exc.current_version,
            ) from None
        except BackendUnavailable as exc:
            raise self._unavailable(exc) from None
        if not deleted and not request.allow_missing:
            raise err.not_found(
                f"key {key!r} not found in namespace {ns!r} (set allow_missing to ignore)",
                namespace=ns,
                key=key,
            )
        return kv_pb2.DeleteResponse(deleted=deleted)

    async def BatchGet(
        self, request: kv_pb2.BatchGetRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.BatchGetResponse:
        ns, keys = self._ns(request.namespace), self._batch(request.keys)
        try:
            entries = await self.backend.batch_get(ns, keys)
        except BackendUnavailable as exc:
            raise self._unavailable(exc) from None
        found = [e is not None for e in entries]
        return kv_pb2.BatchGetResponse(
            found=found,
            values=[e.value if e is not None else b"" for e in entries],
            versions=[e.version if e is not None else 0 for e in entries],
        )

    async def BatchPut(
        self, request: kv_pb2.BatchPutRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.BatchPutResponse:
        ns, keys = self._ns(request.namespace), self._batch(request.keys)
        values = list(request.values)
        if len(values) != len(keys):
            raise err.invalid_argument(
                "values",
                f"values has {len(values)} items but keys has {len(keys)}; "
                "they must have the same length",
            )
        for i, value in enumerate(values):
            self._value(value, f"values[{i}]")
        if len(set(keys)) != len(keys):
            raise err.invalid_argument("keys", "keys must be unique within one BatchPut")
        try:
            versions = await self.backend.batch_put(ns, keys, values, self._ttl(request.ttl_ms))
        except BackendUnavailable as exc:
            raise self._unavailable(exc) from None
        return kv_pb2.BatchPutResponse(versions=versions)

    async def Scan(
        self, request: kv_pb2.ScanRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.ScanResponse:
        ns = self._ns(request.namespace)
        size = request.page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise err.invalid_argument(
                "page_size", f"page_size must be 1..{MAX_PAGE}; got {request.page_size}"
            )
        after = decode_key_token(request.page_token, "Scan", prefix=request.prefix)
        try:
            rows = await self.backend.scan(
                ns, request.prefix, after, size + 1, request.include_values
            )
        except BackendUnavailable as exc:
            raise self._unavailable(exc) from None
        page, more = rows[:size], len(rows) > size
        # A page also stops at page_bytes of keys and values (at least one entry), so that it
        # stays well under the message limit whatever the page_size.
        total = 0
        for i, (key, entry) in enumerate(page):
            total += len(key.encode()) + len(entry.value) + 32
            if total > self._page_bytes and i > 0:
                page, more = page[:i], True
                break
        token = encode_key_token(page[-1][0]) if more else ""
        return kv_pb2.ScanResponse(
            entries=[
                kv_pb2.Entry(key=k, value=e.value, version=e.version, ttl_ms=e.ttl_ms)
                for k, e in page
            ],
            next_page_token=token,
        )

    async def Clear(
        self, request: kv_pb2.ClearRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.ClearResponse:
        ns = self._ns(request.namespace)
        try:
            return kv_pb2.ClearResponse(deleted_count=await self.backend.clear(ns))
        except BackendUnavailable as exc:
            raise self._unavailable(exc) from None


def build_spec(config: KVConfig) -> ServiceSpec:
    backend = create_backend(
        config.backend,
        config.redis_url,
        sentinels=config.redis_sentinels,
        master_name=config.redis_master_name,
        wait_replicas=config.redis_wait_replicas,
        wait_timeout_ms=config.redis_wait_timeout_ms,
    )
    servicer = KVServicer(backend, config)

    async def start() -> None:
        if not await backend.ping():
            # Serve anyway (NOT_SERVING) and let the readiness probe flip health when the store appears.
            pass

    return ServiceSpec(
        name="kv",
        service_names=(kv_pb2.DESCRIPTOR.services_by_name["KVService"].full_name,),
        add_servicers=lambda server: kv_pb2_grpc.add_KVServiceServicer_to_server(servicer, server),
        start=start,
        stop=backend.close,
        ready=backend.ping if config.backend == "redis" else None,
        metadata=lambda: {"backend": config.backend},
    )
