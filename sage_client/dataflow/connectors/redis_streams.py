"""Redis Streams: a consumer-group source (XREADGROUP, XACK) and an XADD sink.

Credentials travel in the URL as the KV service gets them (``redis://user:password@host:port/db``,
``SAGE_REDIS_URL`` by default; ``python -m sage_deploy.secrets redis-url FILE HOST:PORT`` prints
the mesh's). The source acknowledges an entry only once it was processed downstream: the
entries delivered before checkpoint N are acknowledged when checkpoint N+1 is taken (N is
stored by then), and all of them at the clean end of the job. A restarted job (same group and
consumer name) first re-reads its consumer's pending entries, so nothing delivered but
unprocessed is lost (at-least-once). ``ack="read"`` acknowledges on read instead (at-most-once).
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sage_client.dataflow.api.functions import SinkFunction, SourceFunction
from sage_client.dataflow.connectors.errors import ConnectorError, ConnectorUnavailable, RecordError
from sage_client.dataflow.connectors.settings import merged, positive

DEFAULT_URL = "redis://127.0.0.1:6379/0"
ENCODINGS = ("json", "fields")
_ACK_CHUNK = 1000
_UNACKED_WARNING = 100_000


def redis_url(url: str | None) -> str:
    return url or os.environ.get("SAGE_REDIS_URL") or DEFAULT_URL


def _where(url: str) -> str:
    """host:port/db of a URL, never its password."""
    parts = urlsplit(url)
    user = f"user {parts.username!r} at " if parts.username else ""
    return f"{user}{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def connect(owner: str, url: str, timeout_s: float) -> Any:
    """A checked client: ConnectorUnavailable names an unreachable server, ConnectorError a
    refused login (the password is never shown)."""
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=max(timeout_s, 5.0)
    )
    try:
        client.ping()
    except redis.exceptions.AuthenticationError as exc:
        raise ConnectorError(
            f"{owner}: Redis refused the credentials of {_where(url)}: {exc}"
        ) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        if "auth" in str(exc).lower() or "NOAUTH" in str(exc):
            raise ConnectorError(
                f"{owner}: Redis at {_where(url)} needs credentials: {exc}"
            ) from exc
        raise ConnectorUnavailable(f"{owner}: Redis unreachable at {_where(url)}: {exc}") from exc
    except redis.exceptions.ResponseError as exc:
        raise ConnectorError(f"{owner}: Redis at {_where(url)} refused: {exc}") from exc
    return client


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class RedisStreamSource(SourceFunction):
    """``RedisStreamSource(stream="events", group="etl")``: one consumer per parallel instance
    (``consumer``, default ``<job>-<index>``, must stay the same across restarts to get its
    pending entries back). ``encoding="json"`` emits ``json.loads`` of field ``field``;
    ``"fields"`` emits the entry's fields as a dict of strings. ``start_id`` is where a new
    group starts (``"0"``: the whole stream, ``"$"``: new entries only)."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        v = merged(
            "RedisStreamSource",
            config,
            kwargs,
            (
                "stream",
                "group",
                "consumer",
                "url",
                "start_id",
                "count",
                "block_ms",
                "ack",
                "encoding",
                "field",
                "with_id",
                "connect_timeout_s",
            ),
            required=("stream", "group"),
        )
        self.stream = str(v["stream"])
        self.group = str(v["group"])
        self.consumer = v.get("consumer")
        self.url = redis_url(v.get("url"))
        self.start_id = str(v.get("start_id", "0"))
        self.count = positive("RedisStreamSource", "count", v.get("count", 100), integer=True)
        self.block_ms = positive("RedisStreamSource", "block_ms", v.get("block_ms", 100), True)
        self.ack = v.get("ack", "processed")
        if self.ack not in ("processed", "read"):
            raise ValueError(
                f"RedisStreamSource: ack must be 'processed' or 'read', got {self.ack!r}"
            )
        self.encoding = v.get("encoding", "json")
        if self.encoding not in ENCODINGS:
            raise ValueError(
                f"RedisStreamSource: encoding must be one of {ENCODINGS}, got {self.encoding!r}"
            )
        self.field = str(v.get("field", "data"))
        self.with_id = bool(v.get("with_id", False))
        self.connect_timeout_s = positive(
            "RedisStreamSource", "connect_timeout_s", v.get("connect_timeout_s", 5.0)
        )
        self._client: Any = None
        self._buffer: deque[tuple[str, Any]] = deque()
        self._unacked: list[str] = []  # ids emitted, not yet acknowledged (in order)
        self._marked = 0  # how many of them the last checkpoint covered
        self._reread_pending = True  # a (re)started consumer first gets its pending entries
        self._pending_from = "0"
        self._warned = False

    def open(self) -> None:
        if self.consumer is None:
            ctx = self.ctx
            job = ctx.job_name if ctx is not None else "sage"
            index = ctx.parallel_index if ctx is not None else 0
            self.consumer = f"{job}-{index}"
        if self._client is not None:  # recovery in place: what was in flight is lost with the
            self._rewind()  # failed run, so everything not acknowledged is delivered again
            return
        import redis

        self._client = connect("RedisStreamSource", self.url, self.connect_timeout_s)
        try:
            self._client.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise ConnectorError(
                    f"RedisStreamSource: cannot create group {self.group!r} on stream "
                    f"{self.stream!r}: {exc}"
                ) from exc

    # -- reading ------------------------------------------------------------------------------
    def execute(self, data: Any = None) -> Any:
        if not self._buffer:
            self._read()
            if not self._buffer:
                return None
        entry_id, fields = self._buffer.popleft()
        if self.ack == "processed":
            self._unacked.append(entry_id)
            if len(self._unacked) > _UNACKED_WARNING and not self._warned:
                self._warned = True
                self.logger.warning(
                    "RedisStreamSource: %d entries of %r await acknowledgement; enable "
                    "checkpoints (fault_tolerance strategy 'checkpoint') to acknowledge as you go",
                    len(self._unacked),
                    self.stream,
                )
        value = self._decode(entry_id, fields)
        return {"id": entry_id, "value": value} if self.with_id else value

    def _read(self) -> None:
        client = self._client
        start = self._pending_from if self._reread_pending else ">"
        reply = client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: start},
            count=self.count,
            block=None if self._reread_pending else self.block_ms,
        )
        entries = reply[0][1] if reply else []
        if self._reread_pending and not entries:
            self._reread_pending = False  # the pending list is done: new entries from now on
            return
        gone = []
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            if not fields:  # pending but deleted from the stream (XDEL, MAXLEN trim)
                gone.append(entry_id)
                continue
            self._buffer.append((entry_id, fields))
        if self._reread_pending:  # the next page of the pending list starts after this one
            self._pending_from = _text(entries[-1][0])
        if self.ack == "read":
            gone.extend(entry_id for entry_id, _ in self._buffer)
        self._acknowledge(gone)

    def _decode(self, entry_id: str, fields: Mapping[Any, Any]) -> Any:
        decoded = {_text(k): _text(v) for k, v in fields.items()}
        if self.encoding == "fields":
            return decoded
        if self.field not in decoded:
            raise RecordError(
                f"RedisStreamSource: entry {entry_id} of {self.stream!r} has no field "
                f"{self.field!r} (fields: {sorted(decoded)}); use encoding='fields' to read all"
            )
        try:
            return json.loads(decoded[self.field])
        except ValueError as exc:
            raise RecordError(
                f"RedisStreamSource: field {self.field!r} of entry {entry_id} is not JSON: {exc}"
            ) from exc

    def _acknowledge(self, ids: list[str]) -> None:
        for start in range(0, len(ids), _ACK_CHUNK):
            self._client.xack(self.stream, self.group, *ids[start : start + _ACK_CHUNK])

    # -- commit points --------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """A checkpoint's quiet moment: acknowledge what the previous checkpoint covered (it is
        stored now) and mark what was delivered until here."""
        done, self._unacked = self._unacked[: self._marked], self._unacked[self._marked :]
        self._acknowledge(done)
        self._marked = len(self._unacked)
        return {"stream": self.stream, "group": self.group, "consumer": self.consumer}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Back to a checkpoint: every entry not acknowledged is delivered again."""
        self._rewind()

    def _rewind(self) -> None:
        self._buffer.clear()
        self._unacked = []
        self._marked = 0
        self._reread_pending = True
        self._pending_from = "0"

    def on_job_complete(self) -> None:
        if self._client is None:
            return
        self._acknowledge(self._unacked)
        self._unacked = []
        self._marked = 0
        self._client.close()
        self._client = None

    def close(self) -> None:
        """The client stays until ``on_job_complete`` acknowledged what downstream processed."""
        if self._client is not None and not self._unacked:
            self._client.close()
            self._client = None


class RedisStreamSink(SinkFunction):
    """``RedisStreamSink(stream="out", maxlen=10000)``: XADD per record. ``encoding="json"``
    stores ``json.dumps(record)`` in field ``field``; ``"fields"`` takes a flat dict record as
    the entry's fields (values str, bytes, int or float). ``maxlen`` caps the stream (``~``
    trimming unless ``approximate=False``)."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        v = merged(
            "RedisStreamSink",
            config,
            kwargs,
            ("stream", "url", "maxlen", "approximate", "encoding", "field", "connect_timeout_s"),
            required=("stream",),
        )
        self.stream = str(v["stream"])
        self.url = redis_url(v.get("url"))
        maxlen = v.get("maxlen")
        self.maxlen = (
            None if maxlen is None else positive("RedisStreamSink", "maxlen", maxlen, True)
        )
        self.approximate = bool(v.get("approximate", True))
        self.encoding = v.get("encoding", "json")
        if self.encoding not in ENCODINGS:
            raise ValueError(
                f"RedisStreamSink: encoding must be one of {ENCODINGS}, got {self.encoding!r}"
            )
        self.field = str(v.get("field", "data"))
        self.connect_timeout_s = positive(
            "RedisStreamSink", "connect_timeout_s", v.get("connect_timeout_s", 5.0)
        )
        self._client: Any = None

    def open(self) -> None:
        if self._client is None:
            self._client = connect("RedisStreamSink", self.url, self.connect_timeout_s)

    def execute(self, data: Any) -> None:
        fields = self._fields(data)
        self._client.xadd(self.stream, fields, maxlen=self.maxlen, approximate=self.approximate)

    def _fields(self, record: Any) -> dict[str, Any]:
        if self.encoding == "json":
            try:
                return {self.field: json.dumps(record)}
            except (TypeError, ValueError) as exc:
                raise RecordError(
                    f"RedisStreamSink: record is not JSON-serializable: {exc}"
                ) from exc
        if not isinstance(record, Mapping) or not record:
            raise RecordError(
                f"RedisStreamSink: encoding='fields' needs a non-empty dict record, got "
                f"{type(record).__name__}"
            )
        for name, value in record.items():
            if isinstance(value, bool) or not isinstance(value, str | bytes | int | float):
                raise RecordError(
                    f"RedisStreamSink: field {name!r} is {type(value).__name__}; a stream entry "
                    "holds str, bytes, int or float (use encoding='json' for nested records)"
                )
        return {str(k): v for k, v in record.items()}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
