"""KafkaSource: no broker can run here, so the consumer is faked at kafka-python's edge (its
``poll``/``commit``/``seek`` surface); the unreachable-broker error comes from the real client."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest

pytest.importorskip("kafka")
from kafka.structs import TopicPartition  # noqa: E402

from sage_client.dataflow import LocalEnvironment  # noqa: E402
from sage_client.dataflow.connectors.errors import ConnectorUnavailable, RecordError  # noqa: E402
from sage_client.dataflow.connectors.kafka import KafkaSource  # noqa: E402
from sage_client.dataflow.runtime import run_graph  # noqa: E402
from tests.connectors.conftest import Collect, closed_port, wait_for  # noqa: E402


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0


class FakeBroker:
    """One topic's partitions and the group's committed offsets."""

    def __init__(self, topic: str, partitions: int = 2) -> None:
        self.topic = topic
        self.logs: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
        self.committed: dict[TopicPartition, int] = {}
        self.settings: dict = {}
        self.lock = threading.Lock()

    def produce(self, partition: int, value: object) -> None:
        with self.lock:
            self.logs[partition].append(json.dumps(value).encode())

    def consumer(self, **settings) -> FakeConsumer:
        self.settings = settings
        return FakeConsumer(self)


class FakeConsumer:
    def __init__(self, broker: FakeBroker) -> None:
        self.broker = broker
        self.positions: dict[TopicPartition, int] = {}
        self.closed = False

    def subscribe(self, topics: list[str]) -> None:
        assert topics == [self.broker.topic]
        for p in self.broker.logs:
            tp = TopicPartition(self.broker.topic, p)
            self.positions[tp] = self.broker.committed.get(tp, 0)

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        out: dict = {}
        budget = max_records or 1 << 30
        with self.broker.lock:
            for tp, position in self.positions.items():
                log = self.broker.logs[tp.partition][position : position + budget]
                if log:
                    out[tp] = [
                        Message(tp.topic, tp.partition, position + i, None, raw)
                        for i, raw in enumerate(log)
                    ]
                    self.positions[tp] = position + len(log)
                    budget -= len(log)
        return out

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def commit(self, offsets: dict) -> None:
        for tp, meta in offsets.items():
            self.broker.committed[tp] = meta.offset

    def close(self) -> None:
        self.closed = True


def _values(out: Collect) -> list[int]:
    return sorted(r["n"] for r in out.items)


def test_from_kafka_source_in_sages_form_reads_and_commits_at_the_end():
    broker = FakeBroker("events")
    for n in range(6):
        broker.produce(n % 2, {"n": n})
    out = Collect()
    env = LocalEnvironment("kafka")
    env.from_kafka_source(
        KafkaSource,
        "broker:9092",
        "events",
        "etl",
        auto_offset_reset="earliest",
        consumer_factory=broker.consumer,
    ).sink(out)
    env.submit()
    wait_for(lambda: len(out) == 6)
    assert broker.committed == {}  # nothing committed while the records may be in flight
    env.stop(timeout=20)
    assert _values(out) == list(range(6))
    assert broker.committed == {TopicPartition("events", 0): 3, TopicPartition("events", 1): 3}
    assert broker.settings["enable_auto_commit"] is False
    assert broker.settings["group_id"] == "etl"


def test_checkpoints_commit_the_previous_checkpoints_offsets():
    broker = FakeBroker("events", partitions=1)
    for n in range(3):
        broker.produce(0, {"n": n})
    out = Collect()
    env = LocalEnvironment("kafka-ckpt")
    env.from_kafka_source(
        bootstrap_servers="b:9092", topic="events", group_id="g", consumer_factory=broker.consumer
    ).sink(out)
    job = run_graph(env.graph, checkpointing=True)
    try:
        wait_for(lambda: len(out) == 3)
        first = job.checkpoint()
        assert first is not None
        for n in range(3, 5):
            broker.produce(0, {"n": n})
        wait_for(lambda: len(out) == 5)
        assert job.checkpoint() is not None
        wait_for(lambda: broker.committed.get(TopicPartition("events", 0)) == 3)
    finally:
        job.stop(timeout=20)
    assert broker.committed[TopicPartition("events", 0)] == 5
    states = [s for s in first["functions"].values() if s and "offsets" in s]
    assert states == [{"offsets": {"events:0": 3}}]


def test_restore_state_reads_again_from_the_checkpoint():
    broker = FakeBroker("t", partitions=1)
    for n in range(4):
        broker.produce(0, {"n": n})
    source = KafkaSource(bootstrap_servers="b:1", topic="t", consumer_factory=broker.consumer)
    source.open()
    assert [source.execute()["n"] for _ in range(2)] == [0, 1]
    state = source.get_state()
    assert [source.execute()["n"] for _ in range(2)] == [2, 3]
    source.restore_state(state)
    assert [source.execute() for _ in range(3)] == [{"n": 2}, {"n": 3}, None]


def test_metadata_and_string_values():
    broker = FakeBroker("t", partitions=1)
    broker.logs[0].append(b"plain text")
    source = KafkaSource(
        {"bootstrap_servers": "b:1", "topic": "t"},
        value_deserializer="string",
        with_metadata=True,
        consumer_factory=broker.consumer,
    )
    source.open()
    assert source.execute() == {
        "topic": "t",
        "partition": 0,
        "offset": 0,
        "key": None,
        "timestamp": 0,
        "value": "plain text",
    }


def test_an_undecodable_message_names_its_position():
    broker = FakeBroker("t", partitions=1)
    broker.logs[0].append(b"{not json")
    source = KafkaSource(bootstrap_servers="b:1", topic="t", consumer_factory=broker.consumer)
    source.open()
    with pytest.raises(RecordError, match=r"message t\[0\]@0 cannot be decoded"):
        source.execute()


@pytest.mark.timeout(60)
def test_an_unreachable_broker_is_named_by_the_real_client():
    port = closed_port()
    source = KafkaSource(bootstrap_servers=f"127.0.0.1:{port}", topic="t", connect_timeout_s=2)
    with pytest.raises(
        ConnectorUnavailable, match=f"no Kafka broker reachable at 127.0.0.1:{port}"
    ):
        source.open()


def test_bad_settings_are_refused_when_built():
    with pytest.raises(TypeError, match="missing required setting"):
        KafkaSource(topic="t")
    with pytest.raises(ValueError, match="auto_offset_reset must be one of"):
        KafkaSource(bootstrap_servers="b", topic="t", auto_offset_reset="oldest")
    with pytest.raises(ValueError, match="value_deserializer"):
        KafkaSource(bootstrap_servers="b", topic="t", value_deserializer="avro")
    env = LocalEnvironment("k")
    with pytest.raises(TypeError, match="needs group_id"):
        env.from_kafka_source(KafkaSource, "b:9092", "t")


def test_recovery_in_place_reads_again_from_the_committed_offsets():
    broker = FakeBroker("t", partitions=1)
    for n in range(5):
        broker.produce(0, {"n": n})
    failed = []

    def flaky(record):
        if record["n"] == 2 and not failed:
            failed.append(record)
            raise RuntimeError("transient")
        return record

    out = Collect()
    env = LocalEnvironment(
        "kafka-recover", config={"fault_tolerance": {"strategy": "restart", "delay": 0}}
    )
    env.from_kafka_source(KafkaSource, "b:9092", "t", "g", consumer_factory=broker.consumer).map(
        flaky
    ).sink(out)
    env.submit()
    wait_for(lambda: {r["n"] for r in out.items} == {0, 1, 2, 3, 4}, what="all 5 after recovery")
    env.stop(timeout=20)
    assert failed
    assert broker.committed == {TopicPartition("t", 0): 5}
