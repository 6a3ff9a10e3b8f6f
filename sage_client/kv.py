"""Typed clients of the KV service: ``KVClient`` (blocking) and ``AsyncKVClient``.

    kv = KVClient(namespace="demo")          # discovery from SAGE_KV_ADDR / SAGE_ETCD_ENDPOINTS
    version = kv.put("greeting", b"hello")
    kv.get("greeting")                       # b"hello"
    kv.put("greeting", b"hi", expected_version=version)   # compare-and-set
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass

from sage_client.channels import AsyncServiceChannels, ServiceChannels
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


def _put_request(ns: str, key: str, value: Value, ttl: float | None, expected_version: int | None) -> kv_pb2.PutRequest:
    request = kv_pb2.PutRequest(namespace=ns, key=key, value=_bytes(value), ttl_ms=_ttl_ms(ttl))
    if expected_version is not None:
        request.expected_version = expected_version
    return request


def _delete_request(ns: str, key: str, expected_version: int | None, allow_missing: bool) -> kv_pb2.DeleteRequest:
    request = kv_pb2.DeleteRequest(namespace=ns, key=key, allow_missing=allow_missing)
    if expected_version is not None:
        request.expected_version = expected_version
    return request


def _entry(e: kv_pb2.Entry) -> Entry:
    return Entry(e.key, e.value, e.version, e.ttl_ms)


class KVClient:
    """Blocking client of ``sage.kv.v1.KVService``."""

    def __init__(self, namespace: str = "default", *, address: str | Sequence[str] | None = None,
                 resolver: Resolver | None = None, token: str | None = None, timeout: float | None = 30.0) -> None:
        self.namespace = namespace
        self._ch = ServiceChannels("kv", kv_pb2_grpc.KVServiceStub, address=address, resolver=resolver,
                                   token=token, timeout=timeout)

    def _ns(self, namespace: str | None) -> str:
        return self.namespace if namespace is None else namespace

    def get_entry(self, key: str, *, namespace: str | None = None) -> Entry:
        response = self._ch.call("Get", kv_pb2.GetRequest(namespace=self._ns(namespace), key=key), idempotent=True)
        return _entry(response.entry)

    def get(self, key: str, *, namespace: str | None = None) -> bytes:
        """The value of ``key``; raises ``NotFound`` when missing."""
        return self.get_entry(key, namespace=namespace).value

    def put(self, key: str, value: Value, *, ttl: float | None = None, expected_version: int | None = None,
            namespace: str | None = None) -> int:
        """Write ``value``; returns the new version. ``expected_version`` makes it a compare-and-set
        (0 = only if absent); a mismatch raises ``FailedPrecondition`` with ``metadata['current_version']``."""
        request = _put_request(self._ns(namespace), key, value, ttl, expected_version)
        return self._ch.call("Put", request, idempotent=expected_version is None).version

    def delete(self, key: str, *, expected_version: int | None = None, allow_missing: bool = False,
               namespace: str | None = None) -> bool:
        request = _delete_request(self._ns(namespace), key, expected_version, allow_missing)
        return self._ch.call("Delete", request, idempotent=allow_missing and expected_version is None).deleted

    def batch_get(self, keys: Sequence[str], *, namespace: str | None = None) -> dict[str, bytes]:
        """Values of the keys that exist (missing keys are absent from the result)."""
        request = kv_pb2.BatchGetRequest(namespace=self._ns(namespace), keys=keys)
        response = self._ch.call("BatchGet", request, idempotent=True)
        return {k: v for k, f, v in zip(keys, response.found, response.values, strict=True) if f}

    def batch_put(self, items: Mapping[str, Value], *, ttl: float | None = None, namespace: str | None = None) -> list[int]:
        request = kv_pb2.BatchPutRequest(namespace=self._ns(namespace), keys=list(items),
                                         values=[_bytes(v) for v in items.values()], ttl_ms=_ttl_ms(ttl))
        return list(self._ch.call("BatchPut", request, idempotent=True).versions)

    def scan(self, prefix: str = "", *, page_size: int = 100, include_values: bool = True,
             namespace: str | None = None) -> Iterator[Entry]:
        """Every entry under ``prefix`` in key order, fetched a page at a time."""
        token = ""
        while True:
            request = kv_pb2.ScanRequest(namespace=self._ns(namespace), prefix=prefix, page_size=page_size,
                                         page_token=token, include_values=include_values)
            response = self._ch.call("Scan", request, idempotent=True)
            yield from (_entry(e) for e in response.entries)
            token = response.next_page_token
            if not token:
                return

    def clear(self, *, namespace: str | None = None) -> int:
        return self._ch.call("Clear", kv_pb2.ClearRequest(namespace=self._ns(namespace)), idempotent=True).deleted_count

    def close(self) -> None:
        self._ch.close()

    def __enter__(self) -> KVClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncKVClient:
    """asyncio client of ``sage.kv.v1.KVService``; same methods as KVClient, awaited."""

    def __init__(self, namespace: str = "default", *, address: str | Sequence[str] | None = None,
                 resolver: Resolver | None = None, token: str | None = None, timeout: float | None = 30.0) -> None:
        self.namespace = namespace
        self._ch = AsyncServiceChannels("kv", kv_pb2_grpc.KVServiceStub, address=address, resolver=resolver,
                                        token=token, timeout=timeout)

    def _ns(self, namespace: str | None) -> str:
        return self.namespace if namespace is None else namespace

    async def get_entry(self, key: str, *, namespace: str | None = None) -> Entry:
        response = await self._ch.call("Get", kv_pb2.GetRequest(namespace=self._ns(namespace), key=key),
                                       idempotent=True)
        return _entry(response.entry)

    async def get(self, key: str, *, namespace: str | None = None) -> bytes:
        return (await self.get_entry(key, namespace=namespace)).value

    async def put(self, key: str, value: Value, *, ttl: float | None = None, expected_version: int | None = None,
                  namespace: str | None = None) -> int:
        request = _put_request(self._ns(namespace), key, value, ttl, expected_version)
        return (await self._ch.call("Put", request, idempotent=expected_version is None)).version

    async def delete(self, key: str, *, expected_version: int | None = None, allow_missing: bool = False,
                     namespace: str | None = None) -> bool:
        request = _delete_request(self._ns(namespace), key, expected_version, allow_missing)
        return (await self._ch.call("Delete", request, idempotent=allow_missing and expected_version is None)).deleted

    async def batch_get(self, keys: Sequence[str], *, namespace: str | None = None) -> dict[str, bytes]:
        request = kv_pb2.BatchGetRequest(namespace=self._ns(namespace), keys=keys)
        response = await self._ch.call("BatchGet", request, idempotent=True)
        return {k: v for k, f, v in zip(keys, response.found, response.values, strict=True) if f}

    async def batch_put(self, items: Mapping[str, Value], *, ttl: float | None = None,
                        namespace: str | None = None) -> list[int]:
        request = kv_pb2.BatchPutRequest(namespace=self._ns(namespace), keys=list(items),
                                         values=[_bytes(v) for v in items.values()], ttl_ms=_ttl_ms(ttl))
        return list((await self._ch.call("BatchPut", request, idempotent=True)).versions)

    async def scan(self, prefix: str = "", *, page_size: int = 100, include_values: bool = True,
                   namespace: str | None = None) -> AsyncIterator[Entry]:
        token = ""
        while True:
            request = kv_pb2.ScanRequest(namespace=self._ns(namespace), prefix=prefix, page_size=page_size,
                                         page_token=token, include_values=include_values)
            response = await self._ch.call("Scan", request, idempotent=True)
            for e in response.entries:
                yield _entry(e)
            token = response.next_page_token
            if not token:
                return

    async def clear(self, *, namespace: str | None = None) -> int:
        response = await self._ch.call("Clear", kv_pb2.ClearRequest(namespace=self._ns(namespace)), idempotent=True)
        return response.deleted_count

    async def close(self) -> None:
        await self._ch.close()

    async def __aenter__(self) -> AsyncKVClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
