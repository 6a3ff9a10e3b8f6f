"""A job finds mesh services through an etcd with auth on, without the mesh's credentials: the
job manager gives its workers the read-only discovery user (read on the service registry
alone), on the local executor and on Ray; that user can change nothing and read nothing else."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from sage_client import JobClient, KVClient, LocalEnvironment
from sage_client.discovery import connect_etcd
from sage_deploy import infra
from sage_deploy.secrets import load as load_secrets
from tests.conftest import Infra, ServiceProcess, start_etcd
from tests.kernel import pipelines
from tests.kernel.conftest import data_dir, start_kernel  # noqa: F401 - the fixtures, shared

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="workers lose the mesh's secrets file only under a root manager"
)


def found_by_discovery(record: int) -> dict[str, Any]:
    """Runs in the job: a KV client with no address, so etcd discovery picks the instance."""
    with KVClient("job-data") as kv:  # SAGE_ETCD_ENDPOINTS, inherited from the manager
        kv.put(f"found-{record}", b"through discovery")
        value = kv.get(f"found-{record}")
    return {
        "value": value,
        "secrets_env": os.environ.get("SAGE_SECRETS_FILE"),
        "etcd_user": os.environ.get("SAGE_ETCD_CREDENTIALS", "").partition(":")[0],
    }


@pytest.fixture
def secured_etcd(tmp_path: Path) -> Iterator[Infra]:
    server = start_etcd(tmp_path / "etcd")
    try:
        infra.etcd_enable_auth(server.port, load_secrets(os.environ["SAGE_SECRETS_FILE"]))
        yield server
    finally:
        server.proc.stop()


@pytest.fixture
def jobs_client(
    secured_etcd: Infra,
    start_service: Callable[..., ServiceProcess],
    start_kernel: Callable[..., ServiceProcess],  # noqa: F811 - the shared fixture
    tokens: dict[str, str],
) -> Iterator[JobClient]:
    start_service("sage_kv", etcd_endpoints=secured_etcd.address)  # registered under auth
    kernel = start_kernel(etcd_endpoints=secured_etcd.address)
    client = JobClient(address=kernel.address, token=tokens["jobs"])
    yield client
    client.close()


def _run_found_by_discovery(jobs: JobClient, executor: str, **extra: Any) -> list[Any]:
    env = LocalEnvironment(f"discovery-{executor}")
    env.from_batch([1, 2]).map(found_by_discovery).sink(pipelines.announce)
    handle = jobs.submit(env.graph, executor=executor, collect_result=True, **extra)
    handle.wait(timeout=120)
    assert handle.status().state == "succeeded", handle.status()
    return handle.result()


def _assert_found(seen: list[Any]) -> None:
    assert [s["value"] for s in seen] == [b"through discovery"] * 2
    assert {s["secrets_env"] for s in seen} == {None}  # never the mesh's secrets
    assert {s["etcd_user"] for s in seen} == {"sage-reader"}


def test_a_local_job_finds_services_through_an_etcd_with_auth_on(jobs_client: JobClient) -> None:
    _assert_found(_run_found_by_discovery(jobs_client, "local"))


def test_a_ray_jobs_actors_find_services_through_an_etcd_with_auth_on(
    ray_address: str,  # first: the job manager started next inherits the head's auth
    jobs_client: JobClient,
) -> None:
    pytest.importorskip("ray", reason="the ray executor needs `pip install -e .[ray]`")
    _assert_found(_run_found_by_discovery(jobs_client, "ray", ray_address=ray_address))


def test_the_discovery_user_reads_the_registry_alone_and_writes_nothing(
    secured_etcd: Infra, start_service: Callable[..., ServiceProcess]
) -> None:
    start_service("sage_kv", etcd_endpoints=secured_etcd.address)
    reader = load_secrets(os.environ["SAGE_SECRETS_FILE"])["etcd"]["reader"]

    async def attempts() -> dict[str, str]:
        client = await connect_etcd(
            "127.0.0.1", secured_etcd.port, credentials=(reader["user"], reader["password"])
        )
        outcome: dict[str, str] = {}
        try:
            listed = list(await client.get_prefix(b"/sage/v1/services/kv/"))
            outcome["list"] = f"{len(listed)} instance(s)"
            for what, call in (
                ("forge", lambda: client.put(b"/sage/v1/services/kv/forged", b"{}")),
                ("read_other", lambda: client.get(b"/sage/v1/other")),
            ):
                try:
                    await call()
                    outcome[what] = "allowed"
                except Exception as exc:  # noqa: BLE001 - which error is the point
                    outcome[what] = f"{type(exc).__name__}: {exc}"
        finally:
            await client.close()
        return outcome

    outcome = asyncio.run(attempts())

    assert outcome["list"] == "1 instance(s)"
    assert "permission denied" in outcome["forge"].lower(), outcome
    assert "permission denied" in outcome["read_other"].lower(), outcome


def test_an_etcd_whose_auth_predates_the_reader_gets_it_at_the_next_start(tmp_path: Path) -> None:
    full = load_secrets(os.environ["SAGE_SECRETS_FILE"])
    older = {**full, "etcd": {k: v for k, v in full["etcd"].items() if k != "reader"}}
    server = start_etcd(tmp_path / "etcd")
    reader = full["etcd"]["reader"]

    async def reader_lists() -> int:
        client = await connect_etcd(
            "127.0.0.1", server.port, credentials=(reader["user"], reader["password"])
        )
        try:
            return len(list(await client.get_prefix(b"/sage/v1/services/")))
        finally:
            await client.close()

    try:
        assert infra.etcd_enable_auth(server.port, older) is True  # an older mesh's first start
        with pytest.raises(Exception, match="authentication failed|invalid"):
            asyncio.run(reader_lists())
        assert infra.etcd_enable_auth(server.port, full) is False  # auth was on: reader added
        assert asyncio.run(reader_lists()) == 0
    finally:
        server.proc.stop()
