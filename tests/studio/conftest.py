"""A real mesh for Studio's tests, brought up by the launcher (`sage mesh up`'s code) on
ephemeral ports: etcd, Redis, KV, a mock LLM streaming at a known rate, the gateway, the job
manager, the VDB, Studio, Envoy in front; and a headless system Chromium driven by Selenium."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sage_deploy.topology import ServiceDef, Topology
from tests.gateway.conftest import JWT_AUDIENCE, JWT_SECRET, LiveMesh, bring_up

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "studio" / "dist"
TOKENS_PER_S = 25  # the mock LLM's rate: a 40-token reply takes 1.6 s, long enough to watch


def studio_topology() -> Topology:
    return Topology(
        etcd_port=0,
        etcd_peer_port=0,
        redis_port=0,
        envoy_port=0,
        envoy_admin_port=0,
        services=(
            ServiceDef(
                "kv", "sage_kv", "sage.kv.v1.KVService", 0, 0, env={"SAGE_BACKEND": "redis"}
            ),
            ServiceDef(
                "llm",
                "sage_llm",
                "sage.llm.v1.LLMService",
                0,
                0,
                env={
                    "SAGE_BACKEND": "mock",
                    "SAGE_EMBEDDINGS": "false",
                    "SAGE_MOCK_TOKENS_PER_S": str(TOKENS_PER_S),
                },
            ),
            ServiceDef(
                "gateway",
                "sage_gateway",
                "",
                0,
                0,
                http=True,
                env={
                    "SAGE_KEY_CACHE_S": "0",
                    "SAGE_JWT_HS256_SECRET": JWT_SECRET,
                    "SAGE_JWT_AUDIENCE": JWT_AUDIENCE,
                    "SAGE_MEMORY_ENABLED": "false",
                    "SAGE_RAG_COLLECTIONS": "chat-docs",  # the Chat page's sources
                },
            ),
            # the Jobs and Data pages' backends; job workers as this user (no job runs here)
            ServiceDef(
                "kernel",
                "sage_kernel",
                "sage.kernel.v1.JobService",
                0,
                0,
                env={"SAGE_WORKER_USER": ""},
            ),
            ServiceDef("vdb", "sage_vdb", "sage.vdb.v1.VDBService", 0, 0),
            ServiceDef("tsdb", "sage_tsdb", "sage.tsdb.v1.TSDBService", 0, 0),
            ServiceDef(
                "studio",
                "sage_studio",
                "",
                0,
                0,
                http=True,
                route="/studio/",
                env={"SAGE_AUTH_CACHE_S": "0"},
            ),
        ),
    )


def ensure_bundle() -> None:
    """The bundle scripts/setup.sh builds; built here when a checkout has none yet."""
    if not (DIST / "index.html").is_file():
        subprocess.run(["bash", str(ROOT / "scripts" / "build-studio.sh")], check=True)


@pytest.fixture(scope="session")
def studio_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    ensure_bundle()
    yield from bring_up(tmp_path_factory.mktemp("studio-mesh"), studio_topology())


@pytest.fixture(scope="session")
def make_key(studio_mesh: LiveMesh) -> Callable[..., str]:
    store = studio_mesh.keys()

    def make(user: str = "alice", **kwargs: object) -> str:
        return store.create("", user, **kwargs)[0]  # type: ignore[arg-type]

    return make


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.fail(
            "Studio's browser tests need Debian's chromium and chromium-driver (scripts/apt-packages.txt)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,860",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
