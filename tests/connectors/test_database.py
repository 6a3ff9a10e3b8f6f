"""DatabaseSink over SQLite (stdlib) and a real throwaway PostgreSQL cluster."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from sage_client.dataflow import LocalEnvironment
from sage_client.dataflow.connectors.database import DatabaseSink
from sage_client.dataflow.connectors.errors import ConnectorError, ConnectorUnavailable, RecordError
from sage_client.dataflow.runtime import run_graph
from tests.connectors.conftest import closed_port, wait_for


@dataclass
class Target:
    name: str
    url: str
    query: Callable[[str], list[tuple]]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Target:
    if request.param == "sqlite":
        path = tmp_path / "sink.db"

        def query(sql: str) -> list[tuple]:
            with sqlite3.connect(path) as conn:
                return conn.execute(sql).fetchall()

        return Target("sqlite", f"sqlite:///{path}", query)
    server = request.getfixturevalue("postgres")
    return Target("postgresql", server.url, server.query)


def _table() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def _run(records, **sink) -> None:
    env = LocalEnvironment("db-sink")
    env.from_batch(records).sink(DatabaseSink, **sink)
    env.submit(autostop=True)


def test_writes_every_record_with_the_schema_of_the_first(db):
    table = _table()
    records = [
        {"id": i, "name": f"n{i}", "score": i / 2, "ok": i % 2 == 0, "tags": {"i": i}}
        for i in range(23)
    ]
    _run(records, table=table, url=db.url, batch_size=5)
    rows = db.query(f"SELECT id, name, score, ok FROM {table} ORDER BY id")
    assert [(r[0], r[1], float(r[2]), bool(r[3])) for r in rows] == [
        (r["id"], r["name"], r["score"], r["ok"]) for r in records
    ]
    tags = db.query(f"SELECT tags FROM {table} WHERE id = 7")[0][0]
    assert (tags if isinstance(tags, dict) else __import__("json").loads(tags)) == {"i": 7}


def test_a_given_schema_creates_the_table(db):
    table = _table()
    _run(
        [{"k": "a"}, {"k": "b", "v": 2}],
        table=table,
        url=db.url,
        schema={"k": "TEXT NOT NULL", "v": "BIGINT"},
    )
    assert db.query(f"SELECT k, v FROM {table} ORDER BY k") == [("a", None), ("b", 2)]


def test_a_bad_record_names_its_column_and_is_not_written(db):
    table = _table()
    with pytest.raises(RecordError, match="column 'score' takes real values, got str"):
        _run(
            [{"id": 1, "score": 1.5}, {"id": 2, "score": "high"}],
            table=table,
            url=db.url,
            batch_size=100,
        )
    assert db.query(f"SELECT id FROM {table}") == []  # the batch never reached the table


def test_an_unknown_column_is_named(db):
    table = _table()
    with pytest.raises(RecordError, match="column 'colour' is not in table"):
        _run([{"id": 1}, {"id": 2, "colour": "red"}], table=table, url=db.url)


def test_a_batch_the_database_rejects_is_not_half_written(db):
    table = _table()
    records = [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": None, "v": 3}, {"k": "d", "v": 4}]
    with pytest.raises(ConnectorError, match="none written") as caught:
        _run(records, table=table, url=db.url, schema={"k": "TEXT NOT NULL", "v": "BIGINT"})
    assert re.search(r'(\.k\b|"k")', str(caught.value))  # the database names the column
    assert db.query(f"SELECT count(*) FROM {table}") == [(0,)]


def test_a_checkpoint_writes_what_reached_the_sink(db):
    table = _table()
    sent: list[int] = []

    def source():
        if len(sent) < 7:
            sent.append(len(sent))
            return {"n": sent[-1]}
        return None

    env = LocalEnvironment("db-ckpt")
    sink = DatabaseSink(table=table, url=db.url, batch_size=1000, flush_interval_s=3600)
    env.from_source(source).sink(sink)
    job = run_graph(env.graph, checkpointing=True)
    try:
        wait_for(lambda: len(sent) == 7)
        wait_for(lambda: len(sink._rows) == 7 or sink.rows_written == 7)
        assert job.checkpoint() is not None
        assert db.query(f"SELECT count(*) FROM {table}") == [(7,)]
    finally:
        job.stop(timeout=20)


def test_bad_settings_are_refused_when_built():
    with pytest.raises(TypeError, match="missing required setting"):
        DatabaseSink(table="t")
    with pytest.raises(ValueError, match="table name"):
        DatabaseSink(table="t; DROP TABLE x", url="sqlite:///:memory:")
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        DatabaseSink(table="t", url="mysql://u:p@h/db")
    with pytest.raises(ValueError, match="column 'v' has type"):
        DatabaseSink(table="t", url="x.db", schema={"v": "TEXT); DROP TABLE y; --"})


def test_postgres_wrong_password_is_refused(postgres):
    url = f"postgresql://{postgres.user}:wrong@127.0.0.1:{postgres.port}/{postgres.database}"
    sink = DatabaseSink(table="t", url=url)
    with pytest.raises(ConnectorError, match="refused the credentials of user 'sage'") as caught:
        sink.open()
    assert "wrong" not in str(caught.value).split(":", 1)[0]


def test_postgres_unreachable_names_the_address():
    port = closed_port()
    sink = DatabaseSink(table="t", url=f"postgresql://u:p@127.0.0.1:{port}/db", connect_timeout_s=2)
    with pytest.raises(ConnectorUnavailable, match=f"127.0.0.1:{port}"):
        sink.open()
    assert urlsplit(sink.url).password == "p"
