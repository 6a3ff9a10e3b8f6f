"""The sweep of store attempts that never committed: their vector point and index entry go once
they are older than ``orphan_grace_s``; committed memories, and attempts still within the grace,
are left alone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sage_client.kv import KVClient
from sage_client.memory import MemoryClient
from sage_client.vdb import VDBClient
from sage_memory import records
from sage_memory.config import MemoryConfig
from tests.conftest import ServiceProcess
from tests.memory.conftest import MemoryStarter, unit_vectors

NAMESPACE = MemoryConfig.model_fields["kv_namespace"].default
COLLECTION = MemoryConfig.model_fields["collection"].default
GRACE_S = 2.0


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def test_entry_key_names_its_store_attempt() -> None:
    for session in ("plain", "a/b c", "100%"):
        key = records.session_entry_key(session, 1_733_000_000_123_456, "9f" * 16)
        assert key.startswith(records.session_prefix(session))
        assert records.parse_entry_key(key) == ("9f" * 16, 1_733_000_000_123_456)


def test_sweep_removes_uncommitted_attempts_after_the_grace(
    start_memory: MemoryStarter, kv_service: ServiceProcess, vdb_service: ServiceProcess
) -> None:
    memory = start_memory(vdb_service.address, orphan_grace_s=GRACE_S, orphan_sweep_interval_s=0.2)
    vectors = unit_vectors(4, seed=5)
    with (
        MemoryClient(address=memory.address) as client,
        KVClient(NAMESPACE, address=kv_service.address) as kv,
        VDBClient(address=vdb_service.address) as vdb,
    ):
        kept = client.store_memory("sweep", "a committed memory", vector=vectors[0])
        (live_entry,) = [e.key for e in kv.scan(records.INDEX_PREFIX, include_values=False)]
        live_id, live_us = records.parse_entry_key(live_entry)
        assert live_id == kept["id"]

        def leave_attempt(mid: str, created_us: int, vector_row: int) -> tuple[str, str]:
            """What a store killed before its commit leaves: its point and its index entry."""
            entry, point = (
                records.session_entry_key("sweep", created_us, mid),
                records.point_id(mid, created_us),
            )
            vdb.upsert(COLLECTION, [point], vectors[vector_row : vector_row + 1])
            kv.put(entry, mid.encode())
            return entry, point

        now_us = time.time_ns() // 1000
        old = leave_attempt(uuid.uuid4().hex, now_us - 30_000_000, 1)
        lost = leave_attempt(
            live_id, live_us - 30_000_000, 2
        )  # an earlier attempt at the same memory
        young_at = time.monotonic()
        young = leave_attempt(uuid.uuid4().hex, time.time_ns() // 1000, 3)

        def present(entry: str, point: str) -> tuple[bool, bool]:
            keys = {e.key for e in kv.scan(records.INDEX_PREFIX, include_values=False)}
            return entry in keys, point in vdb.get(COLLECTION, [point]).ids

        wait_for(
            lambda: present(*old) == (False, False) and present(*lost) == (False, False),
            10,
            "the old uncommitted attempts are swept",
        )
        if time.monotonic() - young_at < GRACE_S - 0.5:
            assert present(*young) == (True, True), (
                "an attempt within the grace (a store in progress) was swept"
            )
        assert present(live_entry, records.point_id(live_id, live_us)) == (True, True), (
            "a committed memory was swept"
        )
        wait_for(
            lambda: present(*young) == (False, False),
            10,
            "the young attempt is swept once past the grace",
        )

        assert [m["id"] for m in client.list_session_memories("sweep")] == [kept["id"]]
        assert (
            client.search_memories(vectors[0], session_id="sweep", top_k=1)[0]["id"] == kept["id"]
        )
        assert present(live_entry, records.point_id(live_id, live_us)) == (True, True)
