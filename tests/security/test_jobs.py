"""Jobs are code execution by design, so they run with the least the submitter needs: a job
manager started as root (as here and in CI) runs every worker as the unprivileged
``worker_user``, in its own job folder, without the manager's credentials; the job calls mesh
services with its submitter's token; and results come back as JSON, so the client never
unpickles what a server sent."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from sage_client import JobClient, KVClient, LocalEnvironment
from sage_client.errors import FailedPrecondition
from sage_kernel.identity import read_worker_file
from sage_proto.kernel.v1 import kernel_pb2
from tests.conftest import ServiceProcess
from tests.kernel import pipelines
from tests.kernel.conftest import data_dir, start_kernel  # noqa: F401 - the fixtures, shared

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the job's functions travel by value

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the privilege drop happens for a root manager"
)


def _probe(kv_address: str, secrets_file: str) -> Callable[[int], dict[str, Any]]:
    def probe(_: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uid": os.getuid(),
            "euid": os.geteuid(),
            "gid": os.getgid(),
            "groups": os.getgroups(),
            "token_sha": hashlib.sha256(os.environ.get("SAGE_TOKEN", "").encode()).hexdigest(),
            "secrets_env": os.environ.get("SAGE_SECRETS_FILE"),
        }
        for what, attempt in (
            ("secrets", lambda: Path(secrets_file).read_bytes()),
            ("jobs_root", lambda: os.listdir(os.getcwd())),
        ):  # cwd: the jobs folder
            try:
                attempt()
                out[what] = "allowed"
            except PermissionError:
                out[what] = "denied"
        with KVClient("job-data", address=kv_address) as kv:
            kv.put("from-job", b"written by the job")
            out["kv_read"] = kv.get("from-job")
            try:  # owned by the gateway's principal: the submitter may not, the manager (admin) may
                kv.put("forged", b"x", namespace="gateway-keys")
                out["gateway_keys"] = "allowed"
            except Exception as exc:  # noqa: BLE001 - the status is the point
                out["gateway_keys"] = type(exc).__name__
        return out

    return probe


@pytest.fixture
def kv(start_service: Callable[..., ServiceProcess]) -> ServiceProcess:
    return start_service("sage_kv")


@pytest.fixture
def jobs_client(
    start_kernel: Callable[..., ServiceProcess],  # noqa: F811 - the shared fixture
    tokens: dict[str, str],
) -> Iterator[JobClient]:
    client = JobClient(address=start_kernel().address, token=tokens["jobs"])
    yield client
    client.close()


def test_a_job_runs_unprivileged_and_calls_services_with_its_submitters_token(
    jobs_client: JobClient,
    kv: ServiceProcess,
    tokens: dict[str, str],
    data_dir: Path,  # noqa: F811
) -> None:
    secrets_file = os.environ["SAGE_SECRETS_FILE"]
    env = LocalEnvironment("probe")
    env.from_batch([0]).map(_probe(kv.address, secrets_file)).sink(pipelines.announce)
    handle = jobs_client.submit(env.graph, collect_result=True)
    handle.wait(timeout=60)
    (seen,) = handle.result()

    assert seen["uid"] != 0 and seen["euid"] != 0 and seen["gid"] != 0
    assert 0 not in seen["groups"]
    assert seen["secrets_env"] is None  # never the manager's credentials...
    assert seen["secrets"] == "denied"  # ...not even by reading the file
    assert seen["jobs_root"] == "denied"  # nor the other jobs' folders
    assert seen["token_sha"] == hashlib.sha256(tokens["jobs"].encode()).hexdigest()
    assert seen["kv_read"] == b"written by the job"
    assert seen["gateway_keys"] == "PermissionDenied"  # the submitter's rights, not admin's
    with KVClient("job-data", address=kv.address) as admin_kv:
        assert admin_kv.get("from-job") == b"written by the job"

    folder = data_dir / "jobs" / handle.id
    mode = folder.stat()
    assert mode.st_uid == 0 and stat.S_IMODE(mode.st_mode) == 0o1770 and mode.st_gid == seen["gid"]
    token_file = (folder / "submitter.token").stat()
    assert token_file.st_uid == 0 and stat.S_IMODE(token_file.st_mode) == 0o600
    assert (folder / "result.json").stat().st_uid == seen["uid"]  # the worker wrote it


def test_a_ray_jobs_actors_call_services_with_the_submitters_token_too(
    ray_address: str,
    jobs_client: JobClient,
    kv: ServiceProcess,
    tokens: dict[str, str],
) -> None:
    """On Ray the functions run in actors (Ray worker processes, started by the raylet, some
    before the job existed): the submitter's token reaches them with the job, the manager's
    credentials never do."""
    pytest.importorskip("ray", reason="the ray executor needs `pip install -e .[ray]`")
    env = LocalEnvironment("probe-ray")
    probe = _probe(kv.address, os.environ["SAGE_SECRETS_FILE"])
    env.from_batch([0, 1]).map(probe, parallelism=2).sink(pipelines.announce)
    handle = jobs_client.submit(
        env.graph, executor="ray", ray_address=ray_address, collect_result=True
    )
    handle.wait(timeout=120)
    assert handle.status().state == "succeeded", handle.status()
    seen = handle.result()

    assert len(seen) == 2
    for one in seen:
        assert one["uid"] != 0 and one["secrets_env"] is None and one["secrets"] == "denied"
        assert one["token_sha"] == hashlib.sha256(tokens["jobs"].encode()).hexdigest()
        assert one["kv_read"] == b"written by the job"
        assert one["gateway_keys"] == "PermissionDenied"


def test_results_come_back_as_json_and_the_client_never_unpickles(
    jobs_client: JobClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [(1, "a"), {"k": [1.5, None, True]}, b"\x00\xff", {(1, 2): "tuple key"}, float("inf")]
    env = LocalEnvironment("plain")
    env.from_batch(records).sink(pipelines.announce)
    handle = jobs_client.submit(env.graph, collect_result=True)
    handle.wait(timeout=60)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the client unpickled bytes from the server")

    for module in (pickle, cloudpickle):
        monkeypatch.setattr(module, "loads", refuse)
        monkeypatch.setattr(module, "load", refuse)
    assert handle.result() == records
    response = jobs_client._ch.call(
        "GetJobResult", kernel_pb2.GetJobResultRequest(id=handle.id), idempotent=True
    )
    assert list(response.records) == []  # the pickled form is gone from the wire
    assert response.json_records[0] == '{"$tuple":[1,"a"]}'


class Opaque:
    def __init__(self, n: int) -> None:
        self.n = n


def test_a_result_json_cannot_carry_is_refused_with_its_type(jobs_client: JobClient) -> None:
    env = LocalEnvironment("opaque")
    env.from_batch([1]).map(lambda n: Opaque(n)).sink(pipelines.announce)
    handle = jobs_client.submit(env.graph, collect_result=True)
    handle.wait(timeout=60)  # the job itself ran fine
    with pytest.raises(FailedPrecondition, match="Opaque is not JSON-representable"):
        handle.result()


def test_the_manager_never_follows_a_link_a_worker_planted(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("the manager's")
    (tmp_path / "result.json").symlink_to(secret)
    with pytest.raises(OSError):
        read_worker_file(tmp_path / "result.json")
    os.link(secret, tmp_path / "outcome.json")  # a hard link to a file the worker cannot read
    with pytest.raises(OSError, match="not a plain file"):
        read_worker_file(tmp_path / "outcome.json")
    (tmp_path / "metrics.json").write_text("{}")
    assert read_worker_file(tmp_path / "metrics.json") == b"{}"
