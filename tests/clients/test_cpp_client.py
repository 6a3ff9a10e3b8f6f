"""The C++ client (clients/cpp) against a live mesh, through Envoy: pytest starts the mesh,
builds the client with CMake (cached under build/clients-cpp) and runs its ctest tests with
the addresses in the environment. The first build compiles the generated code (about a
minute and a half on 2 cores), hence `slow`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sage_client.credentials import default_token
from tests.background import Background, step
from tests.clients.conftest import LiveMesh
from tests.clients.toolchains import ToolchainMissing, build_cpp_client, run_ctest
from tests.conftest import ServiceProcess

# the build runs in the background from the start of the session (tests/background.py)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.background("cpp-client-build"),
    pytest.mark.timeout(900),  # the first test may wait for the build
]


@step("cpp-client-build")
def _build(scratch: Path) -> Path:
    return build_cpp_client()


@pytest.fixture(scope="session")
def cpp_client(background: Background) -> Iterator[None]:
    try:
        background.result("cpp-client-build")
    except ToolchainMissing as missing:
        pytest.skip(str(missing))
    yield


def _assert_passed(test_name: str, env: dict[str, str]) -> None:
    env = {
        "SAGE_TOKEN": default_token() or "",
        **env,
    }  # the mesh's admin token, as `sage auth token` prints
    outcome, out = run_ctest(test_name, env)
    assert outcome == "Passed", out[-6000:]


def test_cpp_helpers_pack_vectors(cpp_client: None) -> None:
    _assert_passed("helpers", {})


def test_cpp_kv_put_get_scan(cpp_client: None, live_mesh: LiveMesh) -> None:
    _assert_passed("kv", {"SAGE_KV_ADDR": live_mesh.envoy})


def test_cpp_bearer_token(cpp_client: None, start_service: Callable[..., ServiceProcess]) -> None:
    kv = start_service("sage_kv", auth_tokens="cpp-secret")
    _assert_passed("auth", {"SAGE_KV_ADDR": kv.address, "SAGE_TOKEN": "cpp-secret"})


def test_cpp_test_is_skipped_not_passed_without_an_address(cpp_client: None) -> None:
    outcome, out = run_ctest("kv", {"SAGE_KV_ADDR": ""})
    assert outcome == "Skipped", out[-4000:]


def test_cpp_vdb_create_upsert_search_with_filter(cpp_client: None, live_mesh: LiveMesh) -> None:
    live_mesh.require("vdb")
    _assert_passed("vdb", {"SAGE_VDB_ADDR": live_mesh.envoy})


def test_cpp_llm_stream(cpp_client: None, live_mesh: LiveMesh) -> None:
    live_mesh.require("llm")
    _assert_passed("llm", {"SAGE_LLM_ADDR": live_mesh.envoy})
