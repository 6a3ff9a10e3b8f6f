"""DatabaseSink: dict records into a SQL table (SQLite or PostgreSQL), in batched transactions.

Each record is checked when it arrives (a dict whose keys are columns of the table, values of
the column's type): a bad one raises ``RecordError`` naming the column and is not buffered, so
the pipeline's ``on_error`` policy decides about it. Rows are written ``batch_size`` at a time in
one transaction, all or none; buffered rows are also written every ``flush_interval_s``, at each
checkpoint (its quiet moment) and at the end of the stream.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sage_client.dataflow.api.functions import SinkFunction
from sage_client.dataflow.connectors import sql_dialects as sql
from sage_client.dataflow.connectors.errors import ConnectorError, RecordError
from sage_client.dataflow.connectors.settings import merged, positive


class DatabaseSink(SinkFunction):
    """``DatabaseSink(table="events", url="postgresql://user:pw@host:5432/db")`` or
    ``DatabaseSink(table="events", url="sqlite:///events.db")`` (a plain path is SQLite too).

    ``schema``: ``{"column": "SQL TYPE", ...}`` to create the table with; without it a missing
    table is created from the first record (int, float, str, bool, bytes, dict/list as JSON).
    An existing table is used as it is: records must fit its columns."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        v = merged(
            "DatabaseSink",
            config,
            kwargs,
            ("table", "url", "schema", "batch_size", "flush_interval_s", "connect_timeout_s"),
            required=("table", "url"),
        )
        self.table = sql.check_name("table", v["table"])
        self.url = v["url"]
        self.batch_size = positive("DatabaseSink", "batch_size", v.get("batch_size", 500), True)
        self.flush_interval_s = positive(
            "DatabaseSink", "flush_interval_s", v.get("flush_interval_s", 1.0)
        )
        timeout = positive("DatabaseSink", "connect_timeout_s", v.get("connect_timeout_s", 10.0))
        self.dialect = sql.dialect_for(self.url, timeout)
        schema = v.get("schema")
        if schema is not None:
            if not isinstance(schema, Mapping) or not schema:
                raise TypeError("DatabaseSink: schema must be a non-empty dict column -> SQL type")
            for column, kind in schema.items():
                sql.check_name("column", column)
                if (
                    not isinstance(kind, str)
                    or not kind.replace(" ", "")
                    .replace("(", "")
                    .replace(")", "")
                    .replace(",", "")
                    .isalnum()
                ):
                    raise ValueError(
                        f"DatabaseSink: column {column!r} has type {kind!r}; give an SQL type "
                        "such as TEXT, BIGINT, DOUBLE PRECISION, JSONB, VARCHAR(64)"
                    )
        self.schema: dict[str, str] | None = dict(schema) if schema is not None else None
        self._conn: Any = None
        self._columns: dict[str, str] | None = None  # column -> type family, once known
        self._insert = ""
        self._rows: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.rows_written = 0

    # -- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        if self._conn is not None:
            return
        self._conn = self.dialect.connect()
        existing = self.dialect.columns(self._conn, self.table)
        if existing is None and self.schema is not None:
            self._create(self.schema)
        elif existing is not None:
            self._use(existing)
        self._stop.clear()
        self._flusher = threading.Thread(
            target=self._flush_periodically, name=f"sage:DatabaseSink:{self.table}", daemon=True
        )
        self._flusher.start()

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        try:
            self._raise_flusher_error()
            self.flush()
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- records ----------------------------------------------------------------------------
    def execute(self, data: Any) -> None:
        self._raise_flusher_error()
        if not isinstance(data, Mapping):
            raise RecordError(
                f"DatabaseSink({self.table}): a record must be a dict column -> value, "
                f"got {type(data).__name__}"
            )
        with self._lock:
            if self._columns is None:
                self._create({c: self.dialect.type_of(value) for c, value in data.items()})
            row = self._row(data)
            self._rows.append(row)
            full = len(self._rows) >= self.batch_size
        if full:
            self.flush()

    def _row(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        columns = self._columns
        assert columns is not None
        extra = [k for k in record if k not in columns]
        if extra:
            raise RecordError(
                f"DatabaseSink({self.table}): column {extra[0]!r} is not in table {self.table!r} "
                f"(columns: {', '.join(columns)})"
            )
        row = []
        for column, kind in columns.items():
            value = record.get(column)
            if not sql.accepts(kind, value):
                raise RecordError(
                    f"DatabaseSink({self.table}): column {column!r} takes {kind} values, got "
                    f"{type(value).__name__} {value!r:.60}"
                )
            try:
                row.append(self.dialect.adapt(kind, value))
            except (TypeError, ValueError) as exc:
                raise RecordError(
                    f"DatabaseSink({self.table}): column {column!r} value is not JSON: {exc}"
                ) from exc
        return tuple(row)

    def flush(self) -> None:
        """Write the buffered rows in one transaction (all or none)."""
        with self._lock:
            if not self._rows or self._conn is None:
                return
            rows, self._rows = self._rows, []
            try:
                self.dialect.insert_many(self._conn, self._insert, rows)
            except Exception as exc:
                raise ConnectorError(
                    f"DatabaseSink({self.table}): {self.dialect.name} rejected a batch of "
                    f"{len(rows)} rows, none written: {str(exc).strip()}"
                ) from exc
            self.rows_written += len(rows)

    def get_state(self) -> None:
        """A checkpoint's quiet moment: what reached the sink is written before it is taken."""
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - raised on the task's thread next
                self._error = exc
                return

    def _raise_flusher_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    # -- schema -----------------------------------------------------------------------------
    def _create(self, columns: Mapping[str, str]) -> None:
        if not columns:
            raise RecordError(f"DatabaseSink({self.table}): the first record has no columns")
        for column in columns:
            sql.check_name("column", column)
        try:
            self.dialect.create(self._conn, self.table, dict(columns))
        except Exception as exc:
            raise ConnectorError(
                f"DatabaseSink: cannot create table {self.table!r} in {self.dialect.where()}: {exc}"
            ) from exc
        found = self.dialect.columns(self._conn, self.table)
        self._use(found or dict(columns))

    def _use(self, columns: Mapping[str, str]) -> None:
        self._columns = {name: sql.family(kind) for name, kind in columns.items()}
        names = ", ".join(sql.quote(c) for c in self._columns)
        marks = ", ".join(self.dialect.placeholder for _ in self._columns)
        self._insert = f"INSERT INTO {sql.quote(self.table)} ({names}) VALUES ({marks})"
