"""StreamSource on a file being appended to, a real TCP socket, and a child's stdin."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from sage_client.dataflow import LocalEnvironment
from sage_client.dataflow.connectors.errors import ConnectorUnavailable, RecordError
from sage_client.dataflow.connectors.stream_source import StreamSource
from tests.connectors.conftest import ROOT, Collect, closed_port, wait_for


def test_follows_a_file_as_it_is_appended_to(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("one\ntwo\n")
    out = Collect()
    env = LocalEnvironment("tail")
    env.from_source(StreamSource, path=str(path)).sink(out)
    env.submit()
    try:
        wait_for(lambda: len(out) == 2)
        with path.open("a") as f:
            f.write("thr")
            f.flush()
            time.sleep(0.1)  # a half-written line is not a record yet
            f.write("ee\n\nfour\n")
        wait_for(lambda: len(out) == 4)
    finally:
        env.stop(timeout=20)
    assert out.items == ["one", "two", "three", "four"]


def test_a_file_read_to_its_end_when_not_following(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3}')
    out = Collect()
    env = LocalEnvironment("file")
    env.from_source(StreamSource, path=str(path), follow=False, json=True).sink(out)
    env.submit(autostop=True)
    assert out.items == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_checkpoint_state_is_the_byte_offset(tmp_path):
    path = tmp_path / "x.log"
    path.write_text("a\nbb\nccc\n")
    source = StreamSource(path=str(path), follow=False)
    source.open()
    assert source.execute() == "a"
    state = source.get_state()
    assert state == {"offset": 2}
    assert source.execute() == "bb"
    source.restore_state(state)
    assert [source.execute(), source.execute()] == ["bb", "ccc"]
    source.close()


def test_a_line_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\nnot json\n')
    env = LocalEnvironment("bad-json")
    env.from_source(StreamSource, path=str(path), follow=False, json=True).sink(Collect())
    with pytest.raises(RecordError, match="is not JSON .*'not json'"):
        env.submit(autostop=True)


def test_reads_lines_from_a_socket_until_the_peer_closes():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"alpha\nbe")
            time.sleep(0.1)
            conn.sendall(b"ta\ngamma")  # the last line has no newline

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    out = Collect()
    env = LocalEnvironment("socket")
    env.from_source(StreamSource, host="127.0.0.1", port=port).sink(out)
    env.submit(autostop=True)
    thread.join()
    server.close()
    assert out.items == ["alpha", "beta", "gamma"]


def test_an_unreachable_socket_names_the_address():
    port = closed_port()
    source = StreamSource(host="127.0.0.1", port=port, connect_timeout_s=2)
    with pytest.raises(ConnectorUnavailable, match=f"127.0.0.1:{port}"):
        source.open()


def test_reads_stdin_of_a_program():
    program = (
        "from sage_client.dataflow import LocalEnvironment\n"
        "from sage_client.dataflow.connectors.stream_source import StreamSource\n"
        "env = LocalEnvironment('stdin')\n"
        "env.from_source(StreamSource, stdin=True).map(str.upper).sink(print)\n"
        "env.submit(autostop=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        input="hello\nworld\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["HELLO", "WORLD"]


def test_exactly_one_input_is_required():
    with pytest.raises(TypeError, match="exactly one of"):
        StreamSource(path="a", stdin=True)
    with pytest.raises(ValueError, match="port must be an integer"):
        StreamSource(host="127.0.0.1", port="80")
