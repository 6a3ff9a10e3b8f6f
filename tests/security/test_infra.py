"""The infrastructure of a mesh from the launcher refuses strangers: secrets kept owner-only,
etcd and Redis with auth, Envoy's admin on loopback only, unknown Host headers, slow headers,
and the gateway's absence answered in the OpenAI shape."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import stat
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import yaml

from sage_client import KVClient
from sage_deploy.launcher import Endpoints, Mesh
from sage_deploy.processes import pid_alive

HEADERS_TIMEOUT_S = 1.5  # the public listener's request_headers_timeout in this mesh


@dataclass
class RunningMesh:
    mesh: Mesh
    endpoints: Endpoints
    secrets: dict

    @property
    def run_dir(self) -> Path:
        return self.mesh.run_dir

    def port(self, name: str) -> int:
        return int(json.loads((self.run_dir / "state.json").read_text())["ports"][name])

    def pid(self, name: str) -> int:
        return int((self.run_dir / "pids" / f"{name}.pid").read_text())


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    run_dir = tmp_path_factory.mktemp("secure-mesh") / "run"
    m = Mesh(
        run_dir,
        ephemeral=True,
        log=lambda *args: None,
        # worker_user="": job workers as this user, whoever can reach its Python (jobs are not tested here)
        settings={
            "llm": {"backend": "mock"},
            "kernel": {"worker_user": ""},
            "envoy": {"request_headers_timeout_s": str(HEADERS_TIMEOUT_S)},
        },
    )
    with pytest.MonkeyPatch.context() as patch:
        try:
            endpoints = m.up(90)
            patch.setenv(
                "SAGE_SECRETS_FILE", endpoints.secrets
            )  # the SDK here presents this mesh's admin token
            yield RunningMesh(m, endpoints, json.loads(Path(endpoints.secrets).read_text()))
        finally:
            m.down(grace=5)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if b"=" in item)


def test_secrets_file_is_owner_only_and_every_process_gets_it_with_its_principal(
    mesh: RunningMesh,
) -> None:
    path = Path(mesh.endpoints.secrets)
    assert path == mesh.run_dir / "secrets" / "mesh.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    expected = {
        "gateway-0": "gateway",
        "memory-0": "memory",
        "kernel-0": "service",
        "kv-0": "service",
        "vdb-0": "service",
        "llm-0": "service",
        "envoy-sync": "service",
    }
    for name, principal in expected.items():
        env = _environ(mesh.pid(name))
        assert env.get("SAGE_SECRETS_FILE") == str(path), name
        assert env.get("SAGE_PRINCIPAL") == principal, name
    # ... and the mesh works with them: KV (Redis backend, with its ACL user) through Envoy
    with KVClient("infra", address=mesh.endpoints.envoy) as kv:
        assert kv.put("k", b"v") == 1
        assert kv.get("k") == b"v"


def test_etcd_refuses_an_anonymous_registration(mesh: RunningMesh) -> None:
    import aetcd

    port = mesh.port("etcd")
    poison = b"/sage/v1/services/kv/evil"

    async def probe() -> tuple[str, str, int]:
        anon = aetcd.Client(host="127.0.0.1", port=port, timeout=3)
        try:
            await anon.put(poison, json.dumps({"address": "203.0.113.1:1"}).encode())
            anon_error = ""
        except Exception as exc:  # noqa: BLE001 - the refusal is what we look for
            anon_error = str(exc)
        finally:
            await anon.close()
        etcd = mesh.secrets["etcd"]
        member = aetcd.Client(
            host="127.0.0.1", port=port, username=etcd["user"], password=etcd["password"], timeout=3
        )
        try:
            try:  # the mesh's user may write /sage/ only
                await member.put(b"/elsewhere", b"x")
                outside_error = ""
            except Exception as exc:  # noqa: BLE001
                outside_error = str(exc)
            listed = len(await member.get_prefix(poison))
        finally:
            await member.close()
        return anon_error, outside_error, listed

    anon_error, outside_error, listed = asyncio.run(probe())
    assert "user name is empty" in anon_error
    assert "permission denied" in outside_error
    assert listed == 0
    # the registered instances are all there (the services authenticated)
    names = sorted(row["service"] for row in mesh.mesh.status())
    assert names == ["gateway", "kernel", "kv", "llm", "memory", "studio", "tasks", "tsdb", "vdb"]


def test_redis_refuses_a_client_without_password_and_config_for_the_app_user(
    mesh: RunningMesh,
) -> None:
    port = mesh.port("redis")
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port, socket_timeout=3).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port, username="sage", password="not-it", socket_timeout=3).ping()
    app = redis.Redis(
        port=port,
        username="sage",
        password=mesh.secrets["redis"]["users"]["sage"],
        socket_timeout=3,
    )
    assert app.ping()
    with pytest.raises(redis.exceptions.ResponseError):
        app.config_set("dir", "/tmp")
    with pytest.raises(redis.exceptions.ResponseError):
        app.execute_command("CONFIG", "GET", "*")
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.flushall()
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.execute_command("ACL", "SETUSER", "sage", "+@all")  # nor may it widen its own rights
    admin = redis.Redis(port=port, password=mesh.secrets["redis"]["password"], socket_timeout=3)
    with pytest.raises(redis.exceptions.ResponseError, match="unknown command"):
        admin.execute_command("CONFIG", "GET", "dir")  # renamed away for everyone


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing interface
            address = str(s.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_envoy_admin_listens_on_loopback_only(mesh: RunningMesh) -> None:
    config = yaml.safe_load((mesh.run_dir / "envoy.yaml").read_text())
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    admin_port = mesh.port("envoy_admin")
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=3) as reply:
        assert reply.status == 200  # it is there, on loopback
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try the admin port on")
    with pytest.raises(OSError):
        socket.create_connection((address, admin_port), timeout=2).close()


def _get(port: int, path: str, host: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def test_an_unknown_host_header_gets_404(mesh: RunningMesh) -> None:
    port = mesh.port("envoy")
    for host in ("evil.example", f"evil.example:{port}", f"rebound.attacker.test:{port}"):
        status, _, _ = _get(port, "/v1/models", host)
        assert status == 404, host
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost"):
        status, _, _ = _get(port, "/v1/models", host)
        assert status != 404, host  # the gateway answers (401 without a key)


def test_slow_headers_are_cut_after_the_timeout(mesh: RunningMesh) -> None:
    port = mesh.port("envoy")
    with socket.create_connection(("127.0.0.1", port), timeout=HEADERS_TIMEOUT_S + 10) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: local")  # and never the rest
        data = b""
        while True:
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        elapsed = time.monotonic() - start
    assert HEADERS_TIMEOUT_S * 0.8 <= elapsed <= HEADERS_TIMEOUT_S + 5, elapsed
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]


def test_v1_with_the_gateway_down_is_an_openai_shaped_error(mesh: RunningMesh) -> None:
    """Last in this module: it stops the gateway."""
    port, admin = mesh.port("envoy"), mesh.port("envoy_admin")
    pid = mesh.pid("gateway-0")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    while time.monotonic() < deadline:  # Envoy's health check sees it gone
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/clusters", timeout=2) as reply:
            text = reply.read().decode()
        if not any(
            line.startswith("gateway::") and line.endswith("::health_flags::healthy")
            for line in text.splitlines()
        ):
            break
        time.sleep(0.1)
    status, headers, body = _get(port, "/v1/models", f"localhost:{port}")
    assert status == 503, body
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "code"}
    assert error["type"] == "service_unavailable" and error["message"]
