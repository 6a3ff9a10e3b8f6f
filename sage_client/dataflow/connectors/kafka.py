"""KafkaSource: a consumer-group source on kafka-python (the ``connectors`` extra).

Offsets are committed, never auto-committed: those of the records delivered before checkpoint
N are committed when checkpoint N+1 is taken (N is stored by then), and all of them at the
clean end of the job, so a record is committed only after it was processed downstream
(at-least-once). ``get_state()`` carries the positions of a checkpoint; ``restore_state()``
seeks back to them. The consumer is polled from the source's own thread only when the stream
wants more, so a slow pipeline simply polls less (Kafka keeps the backlog).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from sage_client.dataflow.api.functions import SourceFunction
from sage_client.dataflow.connectors.errors import ConnectorError, ConnectorUnavailable, RecordError
from sage_client.dataflow.connectors.settings import merged, positive

_SETTINGS = (
    "bootstrap_servers",
    "topic",
    "group_id",
    "auto_offset_reset",
    "value_deserializer",
    "buffer_size",
    "max_poll_records",
    "poll_timeout_s",
    "connect_timeout_s",
    "with_metadata",
    "on_bad_record",
    "consumer_factory",
)
_RESETS = ("latest", "earliest", "none")
_DESERIALIZERS: dict[str, Callable[[bytes], Any]] = {
    "json": lambda raw: json.loads(raw),
    "string": lambda raw: raw.decode("utf-8"),
    "bytes": lambda raw: raw,
}


def _kafka_consumer(**config: Any) -> Any:
    try:
        import kafka
    except ImportError as exc:
        raise ImportError(
            "KafkaSource needs kafka-python: pip install 'sage-mesh[connectors]'"
        ) from exc
    # the broker-probe timeout has been renamed over kafka-python's versions
    timeout_ms = config.pop("connect_timeout_ms")
    for key in ("bootstrap_timeout_ms", "api_version_auto_timeout_ms"):
        if key in kafka.KafkaConsumer.DEFAULT_CONFIG:
            config.setdefault(key, timeout_ms)
            break
    return kafka.KafkaConsumer(**config)


def _no_brokers_error(exc: BaseException) -> bool:
    """kafka-python's "no broker answered" errors (by name: its versions differ)."""
    unreachable = ("NoBrokersAvailable", "KafkaConnectionError", "KafkaTimeoutError")
    return type(exc).__name__ in unreachable or isinstance(exc, ConnectionError)


class KafkaSource(SourceFunction):
    """``KafkaSource(bootstrap_servers=..., topic=..., group_id=...)`` or SAGE's
    ``KafkaSource({"bootstrap_servers": ..., "topic": ..., "group_id": ...})``.

    Emits each message's deserialized value (``value_deserializer``: ``"json"``, ``"string"``,
    ``"bytes"`` or a callable on the raw bytes), or with ``with_metadata=True`` a dict with
    ``topic``, ``partition``, ``offset``, ``key``, ``timestamp`` and ``value``. Other keyword
    arguments are kafka-python consumer settings (``security_protocol``, ``sasl_*``...).
    ``consumer_factory(**settings)`` replaces ``kafka.KafkaConsumer`` (tests, custom clients).
    """

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        values = merged(
            "KafkaSource",
            config,
            kwargs,
            _SETTINGS,
            required=("bootstrap_servers", "topic"),
            open_ended=True,
        )
        self.bootstrap_servers = values.pop("bootstrap_servers")
        self.topic = values.pop("topic")
        self.group_id = values.pop("group_id", "sage_consumer")
        self.auto_offset_reset = values.pop("auto_offset_reset", "latest")
        if self.auto_offset_reset not in _RESETS:
            raise ValueError(
                f"KafkaSource: auto_offset_reset must be one of {_RESETS}, "
                f"got {self.auto_offset_reset!r}"
            )
        deserializer = values.pop("value_deserializer", "json")
        if callable(deserializer):
            self._deserialize = deserializer
        elif deserializer in _DESERIALIZERS:
            self._deserialize = _DESERIALIZERS[deserializer]
        else:
            raise ValueError(
                f"KafkaSource: value_deserializer must be one of {sorted(_DESERIALIZERS)} "
                f"or a callable, got {deserializer!r}"
            )
        self.buffer_size = positive(
            "KafkaSource", "buffer_size", values.pop("buffer_size", 10000), True
        )
        self.max_poll_records = positive(
            "KafkaSource", "max_poll_records", values.pop("max_poll_records", 500), True
        )
        self.poll_timeout_s = positive(
            "KafkaSource", "poll_timeout_s", values.pop("poll_timeout_s", 0.1)
        )
        self.connect_timeout_s = positive(
            "KafkaSource", "connect_timeout_s", values.pop("connect_timeout_s", 10.0)
        )
        self.with_metadata = bool(values.pop("with_metadata", False))
        self.on_bad_record = values.pop("on_bad_record", "raise")
        if self.on_bad_record not in ("raise", "skip"):
            raise ValueError(
                f"KafkaSource: on_bad_record must be 'raise' or 'skip', got {self.on_bad_record!r}"
            )
        self._factory: Callable[..., Any] = values.pop("consumer_factory", None) or _kafka_consumer
        self.client_settings = values  # passed through to the consumer
        self._consumer: Any = None
        self._buffer: deque[Any] = deque()
        self._delivered: dict[Any, int] = {}  # partition -> next offset after what was emitted
        self._marked: dict[Any, int] = {}  # positions at the last checkpoint, committed at the next
        self._commit_due: dict[Any, int] | None = None
        self._seek_to: dict[tuple[str, int], int] = {}
        self._first: dict[Any, int] = {}  # partition -> first offset this source delivered
        self._committed: dict[Any, int] = {}  # partition -> last offset it committed

    # -- lifecycle ------------------------------------------------------------------------
    def _servers_text(self) -> str:
        servers = self.bootstrap_servers
        return servers if isinstance(servers, str) else ",".join(servers)

    def open(self) -> None:
        if self._consumer is not None:  # recovery in place: what was in flight is lost with
            self._rewind_to_committed()  # the failed run, so go back to the committed offsets
            return
        timeout_ms = int(self.connect_timeout_s * 1000)
        settings = {
            "bootstrap_servers": self.bootstrap_servers,
            "group_id": self.group_id,
            "auto_offset_reset": self.auto_offset_reset,
            "enable_auto_commit": False,
            "max_poll_records": min(self.max_poll_records, self.buffer_size),
            "connect_timeout_ms": timeout_ms,
            **self.client_settings,
        }
        try:
            consumer = self._factory(**settings)
            consumer.subscribe([self.topic])
        except Exception as exc:
            if _no_brokers_error(exc):
                raise ConnectorUnavailable(
                    f"KafkaSource: no Kafka broker reachable at {self._servers_text()} "
                    f"(topic {self.topic!r}, waited {self.connect_timeout_s:g} s): {exc}"
                ) from exc
            raise ConnectorError(
                f"KafkaSource: cannot consume topic {self.topic!r} from "
                f"{self._servers_text()}: {exc}"
            ) from exc
        self._consumer = consumer

    def close(self) -> None:
        """The consumer stays open until the job completes (``on_job_complete`` commits what
        downstream processed, then closes it)."""

    def on_job_complete(self) -> None:
        if self._consumer is None:
            return
        self._commit(dict(self._delivered))
        self._consumer.close()
        self._consumer = None

    # -- reading ------------------------------------------------------------------------------
    def execute(self, data: Any = None) -> Any:
        if self._commit_due is not None:
            due, self._commit_due = self._commit_due, None
            self._commit(due)
        if not self._buffer:
            self._poll()
            if not self._buffer:
                return None
        message = self._buffer.popleft()
        partition = _partition(message)
        self._delivered[partition] = message.offset + 1
        self._first.setdefault(partition, message.offset)
        try:
            value = self._deserialize(message.value) if message.value is not None else None
        except Exception as exc:
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            if self.on_bad_record == "skip":
                self.logger.warning("KafkaSource: skipped undecodable message %s: %s", where, exc)
                return None
            raise RecordError(
                f"KafkaSource: message {where} cannot be decoded by the value_deserializer: {exc}"
            ) from exc
        if not self.with_metadata:
            return value
        return {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": message.key,
            "timestamp": message.timestamp,
            "value": value,
        }

    def _poll(self) -> None:
        consumer = self._consumer
        self._apply_seeks(consumer.assignment())
        batches = consumer.poll(
            timeout_ms=int(self.poll_timeout_s * 1000),
            max_records=min(self.max_poll_records, self.buffer_size),
        )
        for partition, messages in (batches or {}).items():
            key = (partition.topic, partition.partition)
            if key in self._seek_to:  # read before the restored position was applied
                consumer.seek(partition, self._seek_to.pop(key))
                continue
            self._buffer.extend(messages)

    def _apply_seeks(self, assigned: Any) -> None:
        for partition in list(assigned or ()):
            offset = self._seek_to.pop((partition.topic, partition.partition), None)
            if offset is not None:
                self._consumer.seek(partition, offset)

    def _rewind_to_committed(self) -> None:
        seek = {(tp.topic, tp.partition): offset for tp, offset in self._first.items()}
        seek.update({(tp.topic, tp.partition): offset for tp, offset in self._committed.items()})
        self.restore_state({"offsets": {f"{t}:{p}": o for (t, p), o in seek.items()}})

    def _commit(self, positions: dict[Any, int]) -> None:
        if not positions:
            return
        from kafka.structs import OffsetAndMetadata

        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in positions.items()}
        try:
            self._consumer.commit(offsets=offsets)
            self._committed.update(positions)
        except Exception as exc:  # noqa: BLE001 - a rebalance took the partition: it is re-read
            self.logger.warning("KafkaSource: offset commit failed (records re-read): %s", exc)

    # -- checkpoints -----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """In a checkpoint's quiet moment: commit what the previous checkpoint had marked
        (it is stored now), mark what was delivered until here."""
        if self._marked:
            self._commit_due = self._marked
        self._marked = dict(self._delivered)
        return {"offsets": {f"{tp.topic}:{tp.partition}": o for tp, o in self._marked.items()}}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Go back to a checkpoint's positions: the records after them are read again."""
        self._buffer.clear()
        self._commit_due = None
        self._seek_to = {}
        for name, offset in dict(state.get("offsets") or {}).items():
            topic, _, partition = name.rpartition(":")
            self._seek_to[(topic, int(partition))] = int(offset)
        self._delivered = {}
        self._marked = {}


_TOPIC_PARTITION: Any = None


def _partition(message: Any) -> Any:
    global _TOPIC_PARTITION
    if _TOPIC_PARTITION is None:
        from kafka.structs import TopicPartition

        _TOPIC_PARTITION = TopicPartition
    return _TOPIC_PARTITION(message.topic, message.partition)


_POSITIONAL = (
    "bootstrap_servers",
    "topic",
    "group_id",
    "auto_offset_reset",
    "value_deserializer",
    "buffer_size",
    "max_poll_records",
)


def kafka_source_arguments(
    args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[type, dict[str, Any]]:
    """``env.from_kafka_source``'s arguments, both SAGE forms: (source class, settings)."""
    import inspect

    source_class: type = KafkaSource
    if args and inspect.isclass(args[0]):
        source_class, args = args[0], args[1:]
    elif "source_class" in kwargs:
        kwargs = dict(kwargs)
        source_class = kwargs.pop("source_class")
    if len(args) > len(_POSITIONAL):
        raise TypeError(
            f"from_kafka_source() takes at most {len(_POSITIONAL)} positional settings "
            f"({', '.join(_POSITIONAL)}), got {len(args)}"
        )
    settings = dict(zip(_POSITIONAL, args, strict=False))
    twice = sorted(set(settings) & set(kwargs))
    if twice:
        raise TypeError(f"from_kafka_source() got {twice} both by position and by name")
    settings.update(kwargs)
    for name in ("bootstrap_servers", "topic", "group_id"):
        if not settings.get(name):
            raise TypeError(f"from_kafka_source() needs {name}")
    return source_class, settings
