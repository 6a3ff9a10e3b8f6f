"""Redis Streams source and sink against a real Redis with the mesh's ACL on."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest

from sage_client.dataflow import LocalEnvironment
from sage_client.dataflow.connectors.errors import ConnectorError, ConnectorUnavailable, RecordError
from sage_client.dataflow.connectors.redis_streams import RedisStreamSink, RedisStreamSource
from sage_client.dataflow.runtime import run_graph
from tests.connectors.conftest import Collect, closed_port, wait_for


def _names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"events-{tag}", f"group-{tag}"


def _pending(client, stream: str, group: str) -> int:
    return int(client.xpending(stream, group)["pending"])


def _source_env(name: str, url: str, stream: str, group: str, out, fail_on=None, **kw):
    env = LocalEnvironment(name)

    def check(record):
        if fail_on is not None and record["n"] == fail_on:
            raise RuntimeError(f"boom on {fail_on}")
        return record

    env.from_source(
        RedisStreamSource, stream=stream, group=group, consumer="c0", url=url, **kw
    ).map(check).sink(out)
    return env


def test_entries_are_acknowledged_only_once_the_job_has_processed_them(secured_redis):
    client = secured_redis.client()
    stream, group = _names()
    for n in range(5):
        client.xadd(stream, {"data": json.dumps({"n": n})})
    out = Collect()
    env = _source_env("redis-ack", secured_redis.url, stream, group, out)
    env.submit()
    wait_for(lambda: len(out) == 5, what="5 records")
    assert _pending(client, stream, group) == 5  # processed but not yet committed
    env.stop(timeout=20)
    assert sorted(r["n"] for r in out.items) == [0, 1, 2, 3, 4]
    assert _pending(client, stream, group) == 0


def test_a_failed_job_gets_its_unacknowledged_entries_again(secured_redis):
    client = secured_redis.client()
    stream, group = _names()
    for n in range(5):
        client.xadd(stream, {"data": json.dumps({"n": n})})
    first = Collect()
    env = _source_env("redis-fail", secured_redis.url, stream, group, first, fail_on=3)
    with pytest.raises(RuntimeError, match="boom on 3"):
        env.submit().wait(timeout=20)
    assert _pending(client, stream, group) == 5  # nothing acknowledged by a failed job
    again = Collect()
    env = _source_env("redis-fail", secured_redis.url, stream, group, again)
    env.submit()
    wait_for(lambda: len(again) == 5, what="the 5 pending entries re-delivered")
    env.stop(timeout=20)
    assert sorted(r["n"] for r in again.items) == [0, 1, 2, 3, 4]
    assert _pending(client, stream, group) == 0


def test_a_checkpoint_acknowledges_what_the_previous_one_covered(secured_redis):
    client = secured_redis.client()
    stream, group = _names()
    for n in range(3):
        client.xadd(stream, {"data": json.dumps({"n": n})})
    out = Collect()
    env = _source_env("redis-ckpt", secured_redis.url, stream, group, out)
    job = run_graph(env.graph, checkpointing=True)
    try:
        wait_for(lambda: len(out) == 3)
        assert job.checkpoint() is not None
        assert _pending(client, stream, group) == 3  # covered by checkpoint 1, not yet stored
        for n in range(3, 5):
            client.xadd(stream, {"data": json.dumps({"n": n})})
        wait_for(lambda: len(out) == 5)
        assert job.checkpoint() is not None
        assert _pending(client, stream, group) == 2  # checkpoint 1's three are acknowledged
    finally:
        job.stop(timeout=20)
    assert _pending(client, stream, group) == 0


def test_fields_encoding_and_entry_ids(secured_redis):
    client = secured_redis.client()
    stream, group = _names()
    first = client.xadd(stream, {"user": "ada", "clicks": 3}).decode()
    out = Collect()
    env = LocalEnvironment("redis-fields")
    env.from_source(
        RedisStreamSource,
        stream=stream,
        group=group,
        url=secured_redis.url,
        encoding="fields",
        with_id=True,
    ).sink(out)
    env.submit()
    wait_for(lambda: len(out) == 1)
    env.stop(timeout=20)
    assert out.items == [{"id": first, "value": {"user": "ada", "clicks": "3"}}]


def test_sink_appends_with_maxlen(secured_redis):
    client = secured_redis.client()
    stream, _ = _names()
    env = LocalEnvironment("redis-sink")
    env.from_batch([{"n": n} for n in range(50)]).sink(
        RedisStreamSink, stream=stream, url=secured_redis.url, maxlen=10, approximate=False
    )
    env.submit(autostop=True)
    entries = client.xrange(stream)
    assert len(entries) == 10
    assert [json.loads(fields[b"data"])["n"] for _, fields in entries] == list(range(40, 50))


def test_sink_names_the_field_it_cannot_store(secured_redis):
    stream, _ = _names()
    env = LocalEnvironment("redis-bad-field")
    env.from_batch([{"ok": 1, "nested": {"a": 1}}]).sink(
        RedisStreamSink, stream=stream, url=secured_redis.url, encoding="fields"
    )
    with pytest.raises(RecordError, match="field 'nested' is dict"):
        env.submit(autostop=True)
    assert secured_redis.client().exists(stream) == 0


def test_wrong_credentials_are_refused_without_showing_the_password(secured_redis):
    user = next(iter(secured_redis.secrets["redis"]["users"]))
    url = f"redis://{quote(user)}:not-the-password@127.0.0.1:{secured_redis.port}/0"
    sink = RedisStreamSink(stream="x", url=url)
    with pytest.raises(ConnectorError, match=f"credentials of user '{user}'") as caught:
        sink.open()
    assert "not-the-password" not in str(caught.value)


def test_no_credentials_are_refused(secured_redis):
    sink = RedisStreamSink(stream="x", url=f"redis://127.0.0.1:{secured_redis.port}/0")
    with pytest.raises(ConnectorError, match="Redis"):
        sink.open()


def test_unreachable_redis_names_the_address():
    port = closed_port()
    source = RedisStreamSource(
        stream="s", group="g", url=f"redis://127.0.0.1:{port}/0", connect_timeout_s=2
    )
    with pytest.raises(ConnectorUnavailable, match=f"127.0.0.1:{port}"):
        source.open()


def test_bad_settings_are_refused_when_built():
    with pytest.raises(TypeError, match="missing required setting"):
        RedisStreamSource(stream="s")
    with pytest.raises(ValueError, match="ack must be"):
        RedisStreamSource(stream="s", group="g", ack="sometimes")
    with pytest.raises(TypeError, match="unknown setting"):
        RedisStreamSink(stream="s", max_len=3)


@pytest.mark.parametrize("strategy", ["restart", "checkpoint"])
def test_recovery_in_place_delivers_what_the_failed_run_had_in_flight(secured_redis, strategy):
    client = secured_redis.client()
    stream, group = _names()
    for n in range(5):
        client.xadd(stream, {"data": json.dumps({"n": n})})
    failed = []

    def flaky(record):
        if record["n"] == 2 and not failed:
            failed.append(record)
            raise RuntimeError("transient")
        return record

    out = Collect()
    env = LocalEnvironment(
        "redis-recover",
        config={
            "fault_tolerance": {
                "strategy": strategy,
                "checkpoint_interval": 0.05,
                "max_recovery_attempts": 2,
                "delay": 0,
            }
        },
    )
    env.from_source(
        RedisStreamSource, stream=stream, group=group, consumer="c0", url=secured_redis.url
    ).map(flaky).sink(out)
    env.submit()
    wait_for(lambda: {r["n"] for r in out.items} == {0, 1, 2, 3, 4}, what="all 5 after recovery")
    env.stop(timeout=20)
    assert failed  # the failure did happen
    assert _pending(client, stream, group) == 0
