"""The KV contract, run identically against the memory and the Redis backend."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from sage_client import FailedPrecondition, InvalidArgument, KVClient, NotFound
from tests.conftest import Infra, ServiceProcess, spawn_service

MAX_VALUE = 64 * 1024
_ns = itertools.count()


@pytest.fixture(scope="module", params=["memory", "redis"])
def kv_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    settings: dict[str, object] = {"backend": request.param, "max_value_bytes": MAX_VALUE}
    if request.param == "redis":
        redis: Infra = request.getfixturevalue("redis_server")
        settings["redis_url"] = f"redis://{redis.address}/0"
    service = spawn_service(
        tmp_path_factory.mktemp("kv"), f"kv-{request.param}", "sage_kv", **settings
    )
    yield service
    service.proc.stop(grace=5)


@pytest.fixture
def kv(kv_service: ServiceProcess) -> Iterator[KVClient]:
    client = KVClient(f"test-{next(_ns)}", address=kv_service.address)
    yield client
    client.close()


def test_put_then_get_returns_value_and_version(kv: KVClient) -> None:
    assert kv.put("a", b"one") == 1
    assert kv.put("a", "two") == 2
    entry = kv.get_entry("a")
    assert (entry.value, entry.version, entry.ttl_ms) == (b"two", 2, 0)


def test_missing_key_is_not_found_with_reason(kv: KVClient) -> None:
    with pytest.raises(NotFound) as info:
        kv.get("absent")
    assert info.value.reason == "ERROR_REASON_NOT_FOUND"
    assert "'absent'" in info.value.message


def test_compare_and_set_mismatch_carries_current_version(kv: KVClient) -> None:
    kv.put("k", b"v1")
    kv.put("k", b"v2")
    with pytest.raises(FailedPrecondition) as info:
        kv.put("k", b"v3", expected_version=1)
    assert info.value.metadata["current_version"] == "2"
    assert kv.get("k") == b"v2"
    assert kv.put("k", b"v3", expected_version=2) == 3


def test_expected_version_zero_means_create_only(kv: KVClient) -> None:
    assert kv.put("new", b"x", expected_version=0) == 1
    with pytest.raises(FailedPrecondition):
        kv.put("new", b"y", expected_version=0)


def test_delete_missing_is_not_found_unless_allowed(kv: KVClient) -> None:
    with pytest.raises(NotFound):
        kv.delete("ghost")
    assert kv.delete("ghost", allow_missing=True) is False
    kv.put("real", b"1")
    assert kv.delete("real") is True
    with pytest.raises(NotFound):
        kv.get("real")


def test_compare_and_delete(kv: KVClient) -> None:
    kv.put("d", b"1")
    with pytest.raises(FailedPrecondition):
        kv.delete("d", expected_version=7)
    assert kv.delete("d", expected_version=1)


def test_ttl_expires_key(kv: KVClient) -> None:
    kv.put("short", b"x", ttl=0.3)
    assert 0 < kv.get_entry("short").ttl_ms <= 300
    time.sleep(0.45)
    with pytest.raises(NotFound):
        kv.get("short")
    assert kv.put("short", b"again") == 1  # an expired key starts over


def test_key_over_one_kib_is_rejected_naming_the_limit(kv: KVClient) -> None:
    with pytest.raises(InvalidArgument) as info:
        kv.put("k" * 1025, b"x")
    assert info.value.field == "key" and info.value.metadata["limit"] == "1024"
    assert "1024" in info.value.message


def test_value_over_configured_maximum_is_rejected_and_nothing_is_written(kv: KVClient) -> None:
    with pytest.raises(InvalidArgument) as info:
        kv.put("big", b"x" * (MAX_VALUE + 1))
    assert (
        info.value.metadata["limit"] == str(MAX_VALUE) and "max_value_bytes" in info.value.message
    )
    with pytest.raises(NotFound):
        kv.get("big")


def test_empty_namespace_is_invalid(kv: KVClient) -> None:
    with pytest.raises(InvalidArgument) as info:
        kv.get("a", namespace="")
    assert info.value.field == "namespace"


def test_batch_put_and_get_with_missing_keys(kv: KVClient) -> None:
    versions = kv.batch_put({"b1": b"1", "b2": "2"})
    assert versions == [1, 1]
    assert kv.batch_get(["b1", "nope", "b2"]) == {"b1": b"1", "b2": b"2"}


def test_batch_put_rejects_duplicate_keys_atomically(kv: KVClient) -> None:
    with pytest.raises(InvalidArgument):
        kv._ch.call(
            "BatchPut",
            __import__("sage_proto.kv.v1.kv_pb2", fromlist=["x"]).BatchPutRequest(
                namespace=kv.namespace, keys=["x", "x"], values=[b"1", b"2"]
            ),
            idempotent=True,
        )
    assert kv.batch_get(["x"]) == {}


def test_scan_pages_in_key_order_under_prefix(kv: KVClient) -> None:
    kv.batch_put({f"user/{i:03d}": str(i) for i in range(25)})
    kv.put("other", b"no")
    entries = list(kv.scan("user/", page_size=7))
    assert [e.key for e in entries] == [f"user/{i:03d}" for i in range(25)]
    assert entries[3].value == b"3"
    assert [e.value for e in kv.scan("user/00", include_values=False)] == [b""] * 10


def test_clear_empties_only_its_namespace(kv: KVClient) -> None:
    kv.batch_put({"c1": b"1", "c2": b"2"})
    kv.put("keep", b"1", namespace=kv.namespace + "-other")
    assert kv.clear() == 2
    assert list(kv.scan()) == []
    assert kv.get("keep", namespace=kv.namespace + "-other") == b"1"


async def test_async_client_round_trip(kv_service: ServiceProcess) -> None:
    from sage_client import AsyncKVClient

    async with AsyncKVClient(f"async-{next(_ns)}", address=kv_service.address) as client:
        assert await client.put("a", b"1") == 1
        assert await client.get("a") == b"1"
        assert await client.batch_get(["a", "b"]) == {"a": b"1"}
        assert [e.key async for e in client.scan()] == ["a"]
        with pytest.raises(NotFound):
            await client.get("b")
