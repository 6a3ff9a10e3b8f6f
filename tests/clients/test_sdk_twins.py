"""Each typed client of the SDK is written once: the blocking and the asyncio class have the same
methods with the same parameters, derived from one definition (``sage_client.calls``)."""

from __future__ import annotations

import inspect

import pytest

from sage_client.kv import AsyncKVClient, KVClient
from sage_client.llm.client import AsyncLLMClient, LLMClient
from sage_client.memory import AsyncMemoryClient, MemoryClient
from sage_client.remote.client import AsyncJobClient, AsyncJobHandle, JobClient, JobHandle
from sage_client.vdb import AsyncVDBClient, VDBClient

TWINS = [
    (KVClient, AsyncKVClient),
    (VDBClient, AsyncVDBClient),
    (MemoryClient, AsyncMemoryClient),
    (LLMClient, AsyncLLMClient),
    (JobClient, AsyncJobClient),
    (JobHandle, AsyncJobHandle),
]


def _methods(cls: type) -> dict[str, list[tuple[str, object, object]]]:
    """Each public method's parameters: name, kind, default (the async ``upsert_stream`` also
    takes async iterables, so annotations may differ)."""
    return {
        name: [
            (p.name, p.kind, p.default)
            for p in inspect.signature(getattr(cls, name)).parameters.values()
        ]
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name))
    }


@pytest.mark.parametrize(("blocking", "awaited"), TWINS, ids=[b.__name__ for b, _ in TWINS])
def test_the_asyncio_client_has_the_blocking_clients_methods(blocking: type, awaited: type) -> None:
    assert _methods(blocking) == _methods(awaited)


def test_a_derived_method_keeps_its_name_and_documentation() -> None:
    assert KVClient.put.__name__ == "put" and AsyncKVClient.put.__name__ == "put"
    assert KVClient.put.__doc__ == AsyncKVClient.put.__doc__ and "compare-and-set" in (
        KVClient.put.__doc__ or ""
    )
    assert inspect.iscoroutinefunction(AsyncKVClient.put) and not inspect.iscoroutinefunction(
        KVClient.put
    )
    assert inspect.isasyncgenfunction(AsyncKVClient.scan) and inspect.isgeneratorfunction(
        KVClient.scan
    )
