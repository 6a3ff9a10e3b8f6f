"""`sage task ui`: Flower, a real web app, on a loopback port against the test Redis, behind
basic auth (user admin, password the admin mesh token); it sees the running worker."""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from sage_deploy.processes import ManagedProcess, free_port
from tests.tasks.conftest import token_of

pytest.importorskip("flower")


def _get(url: str, password: str | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url)
    if password is not None:
        basic = base64.b64encode(f"admin:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {basic}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


@pytest.fixture
def flower(tmp_path: Path, redis_url: str) -> Iterator[str]:
    port = free_port()
    env = {"SAGE_PRINCIPAL": "admin", "SAGE_TOKEN": ""}  # the admin token of the secrets file
    argv = [sys.executable, "-m", "sage_cli.main", "task", "--broker", redis_url, "ui"]
    proc = ManagedProcess("flower", [*argv, "--port", str(port)], tmp_path / "flower.log", env=env)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(base + "/")
            break
        except OSError:
            assert proc.proc is not None and proc.proc.poll() is None, proc.tail()
            assert time.monotonic() < deadline, f"flower did not answer:\n{proc.tail()}"
            time.sleep(0.3)
    yield base
    proc.stop(grace=3)


@pytest.mark.slow
def test_flower_answers_behind_auth_and_sees_the_worker(flower: str, worker) -> None:
    status, headers, _ = _get(flower + "/")
    assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic")
    assert _get(flower + "/api/workers", "not-the-token")[0] == 401
    assert _get(flower + "/api/workers", token_of("service"))[0] == 401  # not the admin's
    status, _, page = _get(flower + "/", token_of("admin"))
    assert status == 200 and b"Flower" in page
    hostname = json.loads(worker.ready_file.read_text())["address"]  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while True:  # the worker answers Flower's inspect through the broker
        status, _, body = _get(flower + "/api/workers?refresh=1", token_of("admin"))
        assert status == 200, body[:300]
        if hostname in json.loads(body):
            break
        assert time.monotonic() < deadline, f"flower never saw {hostname}: {body[:300]!r}"
        time.sleep(1)
