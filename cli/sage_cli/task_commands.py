"""`sage task submit|status|ls|cancel|ui`: async tasks on the mesh's Celery workers
(docs/tasks.md). The broker is the mesh's Redis (the one under ./run, or --broker /
SAGE_TASKS_BROKER_URL); submissions are signed with this user's mesh token."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any


def register(groups: argparse._SubParsersAction) -> None:
    task = groups.add_parser("task", help="async tasks on the mesh's Celery workers")
    task.add_argument("--broker", help="redis://HOST:PORT/0 (default: the mesh under ./run)")
    sub = task.add_subparsers(dest="action", required=True)
    p = sub.add_parser("submit", help="queue a named task, e.g. sage.ingest_folder")
    p.add_argument("name", help="the task: sage.echo, sage.ingest_folder, sage.embed_batch, ...")
    p.add_argument(
        "params",
        nargs="*",
        metavar="KEY=VALUE",
        help="keyword arguments; a VALUE that parses as JSON is taken as JSON (3, true, [1,2])",
    )
    p.add_argument("--json", dest="kwargs_json", help="keyword arguments as one JSON object")
    p.add_argument("--wait", "-w", action="store_true", help="wait for the result and print it")
    p.add_argument("--timeout", type=float, default=None, help="seconds --wait waits")
    p.set_defaults(func=_submit)
    p = sub.add_parser("status", help="a task's state, progress and result")
    p.add_argument("id")
    p.set_defaults(func=_status)
    p = sub.add_parser("ls", help="the newest submissions, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=_ls)
    p = sub.add_parser("cancel", help="cancel a task (a running one is terminated)")
    p.add_argument("id")
    p.set_defaults(func=_cancel)
    p = sub.add_parser("ui", help="Flower, the queue's web UI, on loopback (needs `flower`)")
    p.add_argument("--port", type=int, default=5555)
    p.set_defaults(func=_ui)


def _run(fn: Callable[[], int]) -> int:
    from sage_client import SageError

    try:
        return fn()
    except (SageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _client(args: argparse.Namespace) -> Any:
    from sage_client.tasks import TaskClient

    return TaskClient(args.broker)


def parse_params(params: list[str], kwargs_json: str | None) -> dict[str, Any]:
    """``KEY=VALUE`` words (VALUE as JSON when it parses, else a string) over ``--json``."""
    kwargs: dict[str, Any] = {}
    if kwargs_json:
        loaded = json.loads(kwargs_json)
        if not isinstance(loaded, dict):
            raise ValueError("--json must be a JSON object of keyword arguments")
        kwargs.update(loaded)
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"{item!r}: expected KEY=VALUE, e.g. folder=docs")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    return kwargs


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _submit(args: argparse.Namespace) -> int:
    def go() -> int:
        with _client(args) as tasks:
            job = tasks.submit(args.name, **parse_params(args.params, args.kwargs_json))
            print(job.id)
            if args.wait:
                print(_show(job.result(timeout=args.timeout)))
        return 0

    return _run(go)


def _status(args: argparse.Namespace) -> int:
    def go() -> int:
        with _client(args) as tasks:
            s = tasks.status(args.id)
        print(f"id         {s.id}\nname       {s.name}\nstate      {s.state}")
        print(f"principal  {s.principal or '-'}\nsubmitted  {_when(s.submitted)}")
        if s.progress:
            print(f"progress   {_show(s.progress)}")
        if s.state == "SUCCESS":
            print(f"result     {_show(s.result)}")
        if s.error:
            print(f"error      {s.error}")
        return 0

    return _run(go)


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def _ls(args: argparse.Namespace) -> int:
    def go() -> int:
        with _client(args) as tasks:
            rows = [("ID", "NAME", "STATE", "PRINCIPAL", "SUBMITTED")]
            for s in tasks.list(limit=args.limit):
                rows.append((s.id, s.name, s.state, s.principal or "-", _when(s.submitted)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return 0

    return _run(go)


def _cancel(args: argparse.Namespace) -> int:
    def go() -> int:
        with _client(args) as tasks:
            tasks.cancel(args.id)
        print(f"cancelled {args.id}")
        return 0

    return _run(go)


def _ui(args: argparse.Namespace) -> int:
    """Flower on 127.0.0.1 with basic auth: user ``admin``, password the admin mesh token."""

    def go() -> int:
        from sage_client import credentials

        celery = shutil.which("celery")
        if celery is None:
            raise ValueError("`celery` is not on PATH; install the project (scripts/setup.sh)")
        token = credentials.default_token()
        if not token:
            raise ValueError("no mesh credential to protect the UI with (SAGE_TOKEN)")
        # passwords through the environment, not the command line (which `ps` shows)
        env = {
            **os.environ,
            "CELERY_BROKER_URL": _client(args).broker,
            "FLOWER_BASIC_AUTH": f"admin:{token}",
        }
        argv = [celery, "-A", "sage_tasks.flower_app", "flower", f"--port={args.port}"]
        argv.append("--address=127.0.0.1")
        print(f"flower on http://127.0.0.1:{args.port} (user admin, password: the admin token)")
        os.execve(celery, argv, env)
        return 0

    return _run(go)
