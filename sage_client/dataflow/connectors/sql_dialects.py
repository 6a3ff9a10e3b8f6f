"""What differs between SQLite (stdlib) and PostgreSQL (psycopg 3) for DatabaseSink: how to
connect, read a table's columns, create one, and pass a value of a column type."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from sage_client.dataflow.connectors.errors import ConnectorError, ConnectorUnavailable

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# column type family -> the Python values it takes
INTEGER, REAL, TEXT, BLOB, BOOLEAN, JSON, OTHER = (
    "integer",
    "real",
    "text",
    "blob",
    "boolean",
    "json",
    "other",
)


def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"DatabaseSink: {kind} name {name!r} must be letters, digits and _ "
            "(not starting with a digit)"
        )
    return name


def quote(name: str) -> str:
    return '"' + name + '"'


def family(declared: str) -> str:
    t = declared.upper()
    if "BOOL" in t:
        return BOOLEAN
    if "INT" in t:
        return INTEGER
    if any(w in t for w in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return REAL
    if "JSON" in t:
        return JSON
    if any(w in t for w in ("CHAR", "TEXT", "CLOB")):
        return TEXT
    if "BLOB" in t or "BYTEA" in t:
        return BLOB
    return OTHER


def accepts(column_family: str, value: Any) -> bool:
    if value is None:
        return True
    if column_family == BOOLEAN:
        return isinstance(value, bool)
    if column_family == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if column_family == REAL:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if column_family == TEXT:
        return isinstance(value, str)
    if column_family == BLOB:
        return isinstance(value, bytes | bytearray | memoryview)
    return True  # JSON: checked when encoded; OTHER: left to the database


class Dialect:
    name = ""
    placeholder = "?"
    types: dict[str, str] = {}

    def __init__(self, target: str, timeout_s: float) -> None:
        self.target = target
        self.timeout_s = timeout_s

    def where(self) -> str:
        return self.target

    def connect(self) -> Any:
        raise NotImplementedError

    def columns(self, conn: Any, table: str) -> dict[str, str] | None:
        """column -> declared type, in table order; None when the table does not exist."""
        raise NotImplementedError

    def type_of(self, value: Any) -> str:
        """The column type a first record's value asks for."""
        if isinstance(value, bool):
            return self.types[BOOLEAN]
        if isinstance(value, int):
            return self.types[INTEGER]
        if isinstance(value, float):
            return self.types[REAL]
        if isinstance(value, bytes | bytearray | memoryview):
            return self.types[BLOB]
        if isinstance(value, dict | list):
            return self.types[JSON]
        return self.types[TEXT]

    def adapt(self, column_family: str, value: Any) -> Any:
        if column_family == JSON and value is not None:
            return json.dumps(value)
        return value

    def create(self, conn: Any, table: str, columns: dict[str, str]) -> None:
        body = ", ".join(f"{quote(c)} {t}" for c, t in columns.items())
        self.execute_ddl(conn, f"CREATE TABLE IF NOT EXISTS {quote(table)} ({body})")

    def execute_ddl(self, conn: Any, sql: str) -> None:
        raise NotImplementedError

    def insert_many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """All ``rows`` in one transaction: all written, or none."""
        raise NotImplementedError


class SQLite(Dialect):
    name = "sqlite"
    types = {
        BOOLEAN: "BOOLEAN",
        INTEGER: "INTEGER",
        REAL: "REAL",
        TEXT: "TEXT",
        BLOB: "BLOB",
        JSON: "JSON",
    }

    def connect(self) -> Any:
        try:
            conn = sqlite3.connect(self.target, timeout=self.timeout_s, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConnectorUnavailable(
                f"DatabaseSink: cannot open SQLite database {self.target!r}: {exc}"
            ) from exc
        conn.isolation_level = None  # explicit BEGIN/COMMIT below
        return conn

    def columns(self, conn: Any, table: str) -> dict[str, str] | None:
        rows = conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
        return {row[1]: row[2] or "" for row in rows} or None

    def execute_ddl(self, conn: Any, sql: str) -> None:
        conn.execute(sql)

    def insert_many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class Postgres(Dialect):
    name = "postgresql"
    placeholder = "%s"
    types = {
        BOOLEAN: "BOOLEAN",
        INTEGER: "BIGINT",
        REAL: "DOUBLE PRECISION",
        TEXT: "TEXT",
        BLOB: "BYTEA",
        JSON: "JSONB",
    }

    def where(self) -> str:
        parts = urlsplit(self.target)
        user = f"user {unquote(parts.username)!r} at " if parts.username else ""
        return f"{user}{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    def connect(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:
            raise ImportError(
                "DatabaseSink on PostgreSQL needs psycopg: pip install 'sage-mesh[connectors]'"
            ) from exc
        try:
            return psycopg.connect(
                self.target, autocommit=True, connect_timeout=max(1, int(self.timeout_s))
            )
        except psycopg.OperationalError as exc:
            text = str(exc)
            if "password" in text or "authentication" in text:
                raise ConnectorError(
                    f"DatabaseSink: PostgreSQL refused the credentials of {self.where()}: "
                    f"{text.strip()}"
                ) from exc
            raise ConnectorUnavailable(
                f"DatabaseSink: PostgreSQL unreachable at {self.where()}: {text.strip()}"
            ) from exc

    def columns(self, conn: Any, table: str) -> dict[str, str] | None:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND table_schema = current_schema() ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        return {name: kind for name, kind in rows} or None

    def adapt(self, column_family: str, value: Any) -> Any:
        if column_family == JSON and value is not None:
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value

    def execute_ddl(self, conn: Any, sql: str) -> None:
        conn.execute(sql)

    def insert_many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(sql, rows)


def dialect_for(url: str, timeout_s: float) -> Dialect:
    """``postgresql://user:password@host:port/db`` (or ``postgres://``), ``sqlite:///path``,
    ``sqlite://:memory:`` or a plain file path (SQLite)."""
    if not isinstance(url, str) or not url:
        raise ValueError(f"DatabaseSink: url must be a non-empty string, got {url!r}")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return Postgres(url, timeout_s)
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path  # sqlite:////abs, sqlite:///rel
        return SQLite(path or ":memory:", timeout_s)
    if scheme:
        raise ValueError(
            f"DatabaseSink: unsupported database {scheme!r} in {url.split('@')[-1]!r}; "
            "use sqlite:///path or postgresql://user:password@host:port/db"
        )
    return SQLite(url, timeout_s)
