"""Typed clients of the KV service: ``KVClient`` (blocking) and ``AsyncKVClient``, both derived
from one definition of each method (``_KVCalls``; see ``sage_client.calls``).

    kv = KVClient(namespace="demo")          # discovery from SAGE_KV_ADDR / SAGE_ETCD_ENDPOINTS
    version = kv.put("greeting", b"hello")
    kv.get("greeting")                       # b"hello"
    kv.put("greeting", b"hi", expected_version=version)   # compare-and-set
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from sage_client.calls import Pages, Unary, awaited, awaited_pages, blocking, blocking_pages
from sage_client.client_base import AsyncClient, BlockingClient
from sage_client.discovery import Resolver
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc

Value = bytes | str


@dataclass(frozen=True)
class Entry:
    key: str
    value: bytes
    version: int
    ttl_ms: int = 0


def _bytes(value: Value) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _ttl_ms(ttl: float | None) -> int:
    return 0 if not ttl else max(1, int(ttl * 1000))


def _put_request(
    ns: str, key: str, value: Value, ttl: float | None, expected_version: int | None
) -> kv_pb2.PutRequest:
    request = kv_pb2.PutRequest(namespace=ns, key=key, value=_bytes(value), ttl_ms=_ttl_ms(ttl))
    if expected_version is not None:
        request.expected_version = expected_version
    return request


def _delete_request(
    ns: str, key: str, expected_version: int | None, allow_missing: bool
) -> kv_pb2.DeleteRequest:
    request = kv_pb2.DeleteRequest(namespace=ns, key=key, allow_missing=allow_missing)
    if expected_version is not None:
        request.expected_version = expected_version
    return request


@dataclass(frozen=True)
class ScanPage:
    entries: list[Entry]
    next_page_token: str


def _entry(e: kv_pb2.Entry) -> Entry:
    return Entry(e.key, e.value, e.version, e.ttl_ms)


def _entry_of(reply: kv_pb2.GetResponse) -> Entry:
    return _entry(reply.entry)


def _value_of(reply: kv_pb2.GetResponse) -> bytes:
    return reply.entry.value


def _version_of(reply: kv_pb2.PutResponse) -> int:
    return reply.version


def _deleted_of(reply: kv_pb2.DeleteResponse) -> bool:
    return reply.deleted


def _entries_of(reply: kv_pb2.ScanResponse) -> Iterator[Entry]:
    return (_entry(e) for e in reply.entries)


class _KVCalls:
    """Every KV method, written once: its request and how its reply decodes."""

    namespace: str

    def _ns(self, namespace: str | None) -> str:
        return self.namespace if namespace is None else namespace

    def _get_entry(self, key: str, *, namespace: str | None = None) -> Unary[Entry]:
        """The entry of ``key`` (value, version, ttl); raises ``NotFound`` when missing."""
        return Unary(
            "Get", kv_pb2.GetRequest(namespace=self._ns(namespace), key=key), True, _entry_of
        )

    def _get(self, key: str, *, namespace: str | None = None) -> Unary[bytes]:
        """The value of ``key``; raises ``NotFound`` when missing."""
        return Unary(
            "Get", kv_pb2.GetRequest(namespace=self._ns(namespace), key=key), True, _value_of
        )

    def _put(
        self,
        key: str,
        value: Value,
        *,
        ttl: float | None = None,
        expected_version: int | None = None,
        namespace: str | None = None,
    ) -> Unary[int]:
        """Write ``value``; returns the new version. ``expected_version`` makes it a compare-and-set
        (0 = only if absent); a mismatch raises ``FailedPrecondition`` with ``metadata['current_version']``."""
        request = _put_request(self._ns(namespace), key, value, ttl, expected_version)
        return Unary("Put", request, expected_version is None, _version_of)

    def _delete(
        self,
        key: str,
        *,
        expected_version: int | None = None,
        allow_missing: bool = False,
        namespace: str | None = None,
    ) -> Unary[bool]:
        request = _delete_request(self._ns(namespace), key, expected_version, allow_missing)
        return Unary("Delete", request, allow_missing and expected_version is None, _deleted_of)

    def _batch_get(
        self, keys: Sequence[str], *, namespace: str | None = None
    ) -> Unary[dict[str, bytes]]:
        """Values of the keys that exist (missing keys are absent from the result)."""
        request = kv_pb2.BatchGetRequest(namespace=self._ns(namespace), keys=keys)
        return Unary(
            "BatchGet",
            request,
            True,
            lambda r: {k: v for k, f, v in zip(keys, r.found, r.values, strict=True) if f},
        )

    def _batch_put(
        self, items: Mapping[str, Value], *, ttl: float | None = None, namespace: str | None = None
    ) -> Unary[list[int]]:
        request = kv_pb2.BatchPutRequest(
            namespace=self._ns(namespace),
            keys=list(items),
            values=[_bytes(v) for v in items.values()],
            ttl_ms=_ttl_ms(ttl),
        )
        return Unary("BatchPut", request, True, lambda r: list(r.versions))

    def _scan(
        self,
        prefix: str = "",
        *,
        page_size: int = 100,
        include_values: bool = True,
        namespace: str | None = None,
    ) -> Pages[Entry]:
        """Every entry under ``prefix`` in key order, fetched a page at a time."""
        ns = self._ns(namespace)
        return Pages(
            "Scan",
            lambda token: kv_pb2.ScanRequest(
                namespace=ns,
                prefix=prefix,
                page_size=page_size,
                page_token=token,
                include_values=include_values,
            ),
            _entries_of,
        )

    def _scan_page(
        self,
        prefix: str = "",
        *,
        page_size: int = 100,
        page_token: str = "",
        include_values: bool = True,
        namespace: str | None = None,
    ) -> Unary[ScanPage]:
        """One page of the entries under ``prefix``; its ``next_page_token`` (empty at the end)
        asks for the next."""
        request = kv_pb2.ScanRequest(
            namespace=self._ns(namespace),
            prefix=prefix,
            page_size=page_size,
            page_token=page_token,
            include_values=include_values,
        )
        return Unary(
            "Scan", request, True, lambda r: ScanPage(list(_entries_of(r)), r.next_page_token)
        )

    def _clear(self, *, namespace: str | None = None) -> Unary[int]:
        return Unary(
            "Clear",
            kv_pb2.ClearRequest(namespace=self._ns(namespace)),
            True,
            lambda r: r.deleted_count,
        )


class KVClient(BlockingClient, _KVCalls):
    """Blocking client of ``sage.kv.v1.KVService``."""

    def __init__(
        self,
        namespace: str = "default",
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        self.namespace = namespace
        self._connect("kv", kv_pb2_grpc.KVServiceStub, address, resolver, token, timeout)

    get_entry = blocking(_KVCalls._get_entry)
    get = blocking(_KVCalls._get)
    put = blocking(_KVCalls._put)
    delete = blocking(_KVCalls._delete)
    batch_get = blocking(_KVCalls._batch_get)
    batch_put = blocking(_KVCalls._batch_put)
    scan = blocking_pages(_KVCalls._scan)
    scan_page = blocking(_KVCalls._scan_page)
    clear = blocking(_KVCalls._clear)


class AsyncKVClient(AsyncClient, _KVCalls):
    """asyncio client of ``sage.kv.v1.KVService``; same methods as KVClient, awaited."""

    def __init__(
        self,
        namespace: str = "default",
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        self.namespace = namespace
        self._connect("kv", kv_pb2_grpc.KVServiceStub, address, resolver, token, timeout)

    get_entry = awaited(_KVCalls._get_entry)
    get = awaited(_KVCalls._get)
    put = awaited(_KVCalls._put)
    delete = awaited(_KVCalls._delete)
    batch_get = awaited(_KVCalls._batch_get)
    batch_put = awaited(_KVCalls._batch_put)
    scan = awaited_pages(_KVCalls._scan)
    scan_page = awaited(_KVCalls._scan_page)
    clear = awaited(_KVCalls._clear)
