"""`sage llm serve|status|stop` with the mock engine and `sage gateway start|status|logs|stop`:
each start registers in etcd, each stop deregisters; the gateway answers SAGE's walkthrough."""

from __future__ import annotations

import json

import httpx

from sage_deploy.status import mesh_status
from tests.cli.conftest import Cli, Sage


def registered(sage: Sage) -> set[str]:
    from sage_client.discovery import etcd_credentials

    rows = mesh_status(sage.etcd(), etcd_credentials(sage.run_dir / "secrets" / "mesh.json"))
    return {row["service"] for row in rows}


def test_llm_serve_then_gateway_with_kv_answer_a_chat_and_stop(sage: Sage) -> None:
    run = ("--run-dir", str(sage.run_dir))
    sage.ok(
        "llm", "serve", *run, "--ephemeral-ports", "--port", "0", "--backend", "mock",
        "--no-embeddings",
    )  # fmt: skip
    status = json.loads(sage.ok("llm", "status", *run, "--json"))
    assert status["health"] == "SERVING" and status["registered"] is True
    mesh = {"SAGE_ETCD_ENDPOINTS": sage.etcd()}
    assert sage.ok("llm", "models", **mesh).split("\t")[:2] == ["mock", "generation"]

    started = sage.ok("gateway", "start", *run, "--port", "0", "--with", "kv")
    gateway = sage.ready("gateway-0")["address"]
    assert f"curl http://{gateway}/health" in started
    assert registered(sage) == {"llm", "kv", "gateway"}
    assert httpx.get(f"http://{gateway}/health").json()["status"] == "healthy"
    key = sage.ok("keys", "create", "--user", "walker", **mesh).split()[-1]
    reply = httpx.post(
        f"http://{gateway}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "sage-default", "messages": [{"role": "user", "content": "Hello!"}]},
        timeout=30,
    )
    assert reply.status_code == 200 and reply.json()["model"] == "mock"
    assert "SERVING" in sage.ok("gateway", "status", *run)
    assert any(
        "registered in etcd" in line for line in sage.ok("gateway", "logs", *run).splitlines()
    )

    assert sage.ok("gateway", "stop", *run).strip() == "stopped: gateway-0, kv-0"
    assert registered(sage) == {"llm"}  # both deregistered on SIGTERM
    assert sage("gateway", "status", *run).returncode == 1
    assert sage.ok("llm", "stop", *run).strip() == "stopped: llm-0, redis, etcd"
    assert sage.pid("etcd") is None


def test_logs_of_a_service_never_started_is_an_error(cli: Cli, sage: Sage) -> None:
    code, _, err = cli("llm", "logs", "--run-dir", str(sage.run_dir))
    assert code == 1 and "no log yet" in err


def test_stop_of_a_service_not_running_says_so(cli: Cli, sage: Sage) -> None:
    code, out, _ = cli("gateway", "stop", "--run-dir", str(sage.run_dir))
    assert code == 0 and "the gateway was not running" in out
