"""SAGE's middleware components under their SAGE names: sage_tsdb, sage_flow, the API client
and the JWT manager (one behaviour each, through the `sage` import path)."""

from __future__ import annotations

import numpy as np
import pytest


def test_sage_tsdb_query_filters_by_tags_and_aggregates() -> None:
    from sage.middleware.components.sage_tsdb import AggregationType, SageTSDB, TimeRange

    db = SageTSDB()
    base = 1_700_000_001_000  # a multiple of the window: SAGE's windows start at the first point
    for i in range(6):
        db.add(base + i * 1000, float(i), tags={"sensor": "a" if i % 2 == 0 else "b"})
    assert db.size == 6
    only_a = db.query(TimeRange(base, base + 10_000), tags={"sensor": "a"})
    assert [p.value for p in only_a] == [0.0, 2.0, 4.0]
    sums = db.query(
        TimeRange(base, base + 10_000), aggregation=AggregationType.SUM, window_size=3000
    )
    assert [p.value for p in sums] == [3.0, 12.0]


def test_sage_tsdb_service_module_path_is_the_service() -> None:
    from sage.middleware.components.sage_tsdb.python.micro_service.sage_tsdb_service import (
        SageTSDBService,
    )

    svc = SageTSDBService()
    svc.add_batch([1000, 2000, 3000], [1.0, 2.0, 3.0])
    assert [row["value"] for row in svc.query(0, 10_000)] == [1.0, 2.0, 3.0]


def test_sage_flow_stream_calls_the_python_sink_per_record() -> None:
    from sage.middleware.components.sage_flow.python.sage_flow import (
        SimpleStreamSource,
        StreamEnvironment,
    )

    seen: list[tuple[int, int]] = []
    env, source = StreamEnvironment(), SimpleStreamSource("hello_source")
    source.write_sink_py("py_sink", lambda uid, ts: seen.append((uid, ts)))
    for uid in range(5):
        source.addRecord(uid, 1000 + uid, np.arange(4, dtype=np.float32) + uid)
    env.addStream(source)
    env.execute()
    assert sorted(seen) == [(uid, 1000 + uid) for uid in range(5)]
    with pytest.raises(ValueError, match="dimension"):
        source.addRecord(9, 0, np.zeros(3, dtype=np.float32))


def test_sage_api_client_names_an_unknown_provider() -> None:
    from sage.middleware.api.client import APIClient

    with APIClient({"providers": {}}) as client:
        with pytest.raises(Exception, match="nosuch") as info:
            client.chat_completion("nosuch", [{"role": "user", "content": "hi"}])
        assert type(info.value).__name__ == "InvalidRequestError"


def test_sage_jwt_manager_round_trips_and_refuses_a_tampered_token() -> None:
    from sage.middleware.auth.jwt import JWTManager

    manager = JWTManager(secret_key="s" * 32)
    token = manager.create_token("alice", scopes=["kv:read"])
    assert manager.verify_token(token)["sub"] == "alice"
    assert manager.scopes(token) == {"kv:read"}
    other = JWTManager(secret_key="t" * 32)
    with pytest.raises(ValueError):
        other.verify_token(token)
    with pytest.raises(ValueError, match="32"):
        JWTManager(secret_key="short")
