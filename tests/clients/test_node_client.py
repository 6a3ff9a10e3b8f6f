"""The generated TypeScript/Node client (clients/node) against a live mesh, through Envoy:
pytest starts the mesh and runs `node --test` with the addresses in the environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sage_client.credentials import default_token
from tests.clients.conftest import LiveMesh
from tests.clients.toolchains import ToolchainMissing, build_node_client, run_node_tests
from tests.conftest import ServiceProcess


@pytest.fixture(scope="session")
def node_client() -> Iterator[None]:
    try:
        build_node_client()
    except ToolchainMissing as missing:
        pytest.skip(str(missing))
    yield


def _assert_all_ran_and_passed(test_file: str, env: dict[str, str], at_least: int) -> None:
    env = {
        "SAGE_TOKEN": default_token() or "",
        **env,
    }  # the mesh's admin token, as `sage auth token` prints
    summary, out = run_node_tests(test_file, env)
    assert summary.failed == 0, out[-6000:]
    assert not summary.skipped, f"tests were skipped: {summary.skipped}"
    assert summary.passed >= at_least, out[-6000:]


def test_node_helpers(node_client: None) -> None:
    _assert_all_ran_and_passed("helpers.test.js", {}, at_least=3)


def test_node_kv_put_get_scan(node_client: None, live_mesh: LiveMesh) -> None:
    _assert_all_ran_and_passed("kv.test.js", {"SAGE_KV_ADDR": live_mesh.envoy}, at_least=4)


def test_node_bearer_token(node_client: None, start_service: Callable[..., ServiceProcess]) -> None:
    kv = start_service("sage_kv", auth_tokens="node-secret")
    _assert_all_ran_and_passed(
        "auth.test.js", {"SAGE_KV_ADDR": kv.address, "SAGE_TOKEN": "node-secret"}, at_least=2
    )


def test_node_vdb_create_upsert_search_with_filter(node_client: None, live_mesh: LiveMesh) -> None:
    live_mesh.require("vdb")
    _assert_all_ran_and_passed("vdb.test.js", {"SAGE_VDB_ADDR": live_mesh.envoy}, at_least=2)


def test_node_llm_stream(node_client: None, live_mesh: LiveMesh) -> None:
    live_mesh.require("llm")
    _assert_all_ran_and_passed("llm.test.js", {"SAGE_LLM_ADDR": live_mesh.envoy}, at_least=2)
