"""Named tasks on real Celery workers: submit, progress, result, list, cancel, and refusals
(unsigned, forged, wrong role, code not on the allow-list)."""

from __future__ import annotations

import json
import time

import pytest
import redis
from celery import Celery

from sage_client.errors import (
    Cancelled,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from sage_client.task_protocol import AUTH_HEADER, QUEUE, broker_url, celery_settings, sign
from sage_client.tasks import TaskClient
from tests.tasks.conftest import mesh_secrets, token_of


def wait_state(tasks: TaskClient, task_id: str, state: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while tasks.status(task_id).state != state:
        assert time.monotonic() < deadline, f"task never reached {state}"
        time.sleep(0.05)


def plain_app(redis_url: str) -> Celery:
    app = Celery(set_as_current=False)
    app.conf.update(celery_settings(broker_url(redis_url, mesh_secrets())))
    return app


def test_a_task_reports_progress_then_its_result(worker, tasks: TaskClient) -> None:
    job = tasks.submit("sage.echo", {"answer": 42}, steps=4, step_s=0.2)
    wait_state(tasks, job.id, "PROGRESS")
    progress = tasks.status(job.id).progress
    assert progress is not None and progress["total"] == 4 and 1 <= progress["done"] <= 4
    assert job.result(timeout=20) == {"answer": 42}
    status = job.status()
    assert (status.state, status.name, status.principal) == ("SUCCESS", "sage.echo", "admin")
    assert status.done and status.result == {"answer": 42}


def test_list_shows_the_newest_submissions_first(worker, tasks: TaskClient) -> None:
    first = tasks.submit("sage.echo", 1)
    second = tasks.submit("sage.echo", 2)
    assert second.result(20) == 2 and first.result(20) == 1
    listed = [s.id for s in tasks.list(limit=10)]
    assert listed.index(second.id) < listed.index(first.id)


def test_an_unsigned_message_is_refused_without_running(worker, redis_url: str) -> None:
    res = plain_app(redis_url).send_task("sage.echo", args=["x"], queue=QUEUE)
    res.get(timeout=20, propagate=False)
    assert res.state == "FAILURE"
    assert type(res.info).__name__ == "Unauthenticated" and "no submitter signature" in str(
        res.info
    )


def test_a_message_changed_after_signing_is_refused(worker, redis_url: str) -> None:
    header = sign(token_of("admin"), "t-forged", "sage.echo", ["signed"], {})
    res = plain_app(redis_url).send_task(
        "sage.echo",
        args=["changed"],
        task_id="t-forged",
        queue=QUEUE,
        headers={AUTH_HEADER: header},
    )
    res.get(timeout=20, propagate=False)
    assert res.state == "FAILURE" and "does not match" in str(res.info)


def test_a_token_the_mesh_did_not_issue_is_refused(worker, redis_url: str) -> None:
    with TaskClient(redis_url, token="not-a-mesh-token-0123456789") as stranger:
        job = stranger.submit("sage.echo", 1)
        with pytest.raises(Unauthenticated, match="did not issue"):
            job.result(timeout=20)


def test_a_user_principal_may_not_submit(worker, redis_url: str) -> None:
    with TaskClient(redis_url, token=token_of("tester")) as user:
        with pytest.raises(PermissionDenied, match="needs one of the roles jobs, service"):
            user.submit("sage.echo", 1).result(timeout=20)


def test_only_the_jobs_role_runs_functions_and_only_allow_listed_ones(
    worker, redis_url: str
) -> None:
    with TaskClient(redis_url, token=token_of("service")) as member:
        job = member.submit("sage.run_function", "tests.tasks.allowed_functions:add", [2, 3])
        with pytest.raises(PermissionDenied, match="roles jobs"):
            job.result(timeout=20)
    with TaskClient(redis_url, token=token_of("jobs")) as jobs:
        add = jobs.submit("sage.run_function", "tests.tasks.allowed_functions:add", [2, 3])
        assert add.result(timeout=20) == 5
        for ref, error, words in (
            ("os:system", PermissionDenied, "allow-list"),
            ("tests.tasks.allowed_functions:_private", PermissionDenied, "private"),
            ("tests.tasks.allowed_functions:missing", InvalidArgument, "no function"),
            ("__import__('os').system('id')", InvalidArgument, "package.module:function"),
        ):
            with pytest.raises(error, match=words):
                jobs.submit("sage.run_function", ref, ["id"]).result(timeout=20)


def test_an_ingest_outside_the_allowed_folders_is_refused(worker, tasks: TaskClient) -> None:
    job = tasks.submit("sage.ingest_folder", collection="docs", folder="/etc")
    with pytest.raises(PermissionDenied, match="outside the folders"):
        job.result(timeout=20)


def test_cancel_stops_a_running_task_and_a_queued_one(worker, tasks: TaskClient) -> None:
    # both of the worker's processes busy, so the third task waits in the queue
    running = [tasks.submit("sage.echo", "never", steps=300, step_s=0.1) for _ in range(2)]
    queued = tasks.submit("sage.echo", "never either")
    for job in running:
        wait_state(tasks, job.id, "PROGRESS")
    assert tasks.status(queued.id).state == "PENDING"
    queued.cancel()
    for job in running:
        job.cancel()
    for job in (*running, queued):
        with pytest.raises(Cancelled):
            job.result(timeout=20)
        assert job.status().state == "REVOKED"


def test_a_task_no_worker_knows_fails_instead_of_waiting(worker, tasks: TaskClient) -> None:
    with pytest.raises(NotFound, match="have no task 'sage.nope'"):
        tasks.submit("sage.nope", 1).result(timeout=20)


def test_bad_requests_are_refused_in_the_sdk(tasks: TaskClient) -> None:
    with pytest.raises(NotFound, match="sage task ls"):
        tasks.status("no-such-task")
    with pytest.raises(InvalidArgument, match="JSON"):
        tasks.submit("sage.echo", object())
    with pytest.raises(InvalidArgument, match="named"):
        tasks.submit(" ")


def test_the_tasks_redis_user_cannot_touch_other_keys(redis_url: str) -> None:
    client = redis.Redis.from_url(broker_url(redis_url, mesh_secrets()))
    client.set("sage-tasks:probe", b"1")  # its own keys
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.get("sage:kv:gateway-keys\0anything")
    client.close()


def test_the_cli_submits_waits_lists_shows_and_cancels(worker, redis_url: str, capsys) -> None:
    from sage_cli.main import main

    assert main(["task", "--broker", redis_url, "submit", "sage.echo", "value=[1,2]", "-w"]) == 0
    task_id, result = capsys.readouterr().out.splitlines()
    assert json.loads(result) == [1, 2]
    assert main(["task", "--broker", redis_url, "status", task_id]) == 0
    out = capsys.readouterr().out
    assert "SUCCESS" in out and "principal  admin" in out
    assert main(["task", "--broker", redis_url, "ls"]) == 0
    assert task_id in capsys.readouterr().out
    assert main(["task", "--broker", redis_url, "cancel", task_id]) == 0
    assert main(["task", "--broker", redis_url, "submit", "sage.echo", "not-a-pair"]) == 1
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert main(["task", "--broker", redis_url, "status", "missing"]) == 1
    assert "no task 'missing'" in capsys.readouterr().err
