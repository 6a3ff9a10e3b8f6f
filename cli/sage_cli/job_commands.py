"""`sage job submit|ls|status|logs|cancel|pause|resume` (discovery: SAGE_KERNEL_ADDR or etcd),
and SAGE's names for them: `list` (ls), `show` (status), `stop` (pause: `continue` resumes it,
as SAGE's JobManager does), `continue` (resume), `delete` (forget a finished job; `--force`
cancels a running one first). Where a job is named, SAGE's forms work too: its number in `sage job list`
(1 = newest) or a unique prefix of its id."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from typing import Any


def register(groups: argparse._SubParsersAction) -> None:
    job = groups.add_parser("job", help="run DataStream programs on the kernel job manager")
    job.add_argument(
        "--address", help="host:port of the job manager or of Envoy (default: discovery)"
    )
    sub = job.add_subparsers(dest="action", required=True)
    p = sub.add_parser("submit", help="run a program (its LocalEnvironment becomes remote)")
    p.add_argument("file", help="the program, e.g. examples/kernel/word_count.py")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the program")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument(
        "--ray-address", default="", help="Ray cluster (executor ray); empty: a local Ray"
    )
    p.add_argument(
        "--restart", choices=("none", "fixed_delay", "exponential_backoff"), default="none"
    )
    p.add_argument("--attempts", type=int, default=3, help="restarts allowed (with --restart)")
    p.add_argument(
        "--delay", type=float, default=1.0, help="seconds before a restart (first one for backoff)"
    )
    p.add_argument(
        "--detach", "-d", action="store_true", help="print the job id and return at once"
    )
    p.set_defaults(func=_submit)
    for name, helptext in (
        ("ls", "list jobs, newest first"),
        ("list", "SAGE's name of `ls`: jobs numbered 1 (newest) on"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--state", help="only jobs in this state (running, failed...)")
        p.add_argument("--limit", type=int, default=50)
        p.set_defaults(func=_ls, numbered=name == "list")
    for name, helptext, func in (
        ("status", "describe a job", _status),
        ("show", "SAGE's name of `status`", _status),
        ("cancel", "cancel a job", _cancel),
        ("pause", "pause a running job", _pause),
        ("stop", "SAGE's name of `pause` (`continue` resumes it)", _pause),
        ("resume", "resume a paused job", _resume),
        ("continue", "SAGE's name of `resume`", _resume),
        ("delete", "forget a finished job (--force: cancel it first)", _delete),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", help="job id, a unique prefix of it, or its number in `list`")
        if name in ("stop", "continue", "delete"):
            p.add_argument(
                "--force",
                "-f",
                action="store_true",
                help="delete: cancel a job still running; stop/continue: accepted (nothing is asked)",
            )
        p.set_defaults(func=func)
    p = sub.add_parser("logs", help="print a job's log lines")
    p.add_argument("id", help="job id, a unique prefix of it, or its number in `list`")
    p.add_argument("--follow", "-f", action="store_true", help="keep streaming until the job ends")
    p.set_defaults(func=_logs)


def _client(args: argparse.Namespace) -> Any:
    from sage_client import JobClient

    return JobClient(address=args.address)


def resolve_job_id(client: Any, ident: str) -> str:
    """``ident`` as SAGE users write it: an id, its number in `sage job list` (1 = newest) or a
    unique prefix of an id. Anything else goes to the server as it is (which says NOT_FOUND)."""
    from sage_client import InvalidArgument

    if re.fullmatch(r"job-[0-9a-f]{12}", ident):
        return ident
    jobs = [job.id for job in client.list()]
    if ident.isdigit() and 0 < int(ident) <= len(jobs):
        return jobs[int(ident) - 1]
    matches = [job_id for job_id in jobs if job_id.startswith(ident)]
    if len(matches) > 1:
        raise InvalidArgument(
            f"{ident!r} is the start of {len(matches)} job ids ({', '.join(matches[:5])}); "
            "give more of the id"
        )
    return matches[0] if matches else ident


def _run(fn: Callable[[], int]) -> int:
    from sage_client import SageError

    try:
        return fn()
    except SageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def _submit(args: argparse.Namespace) -> int:
    from sage_client import RestartPolicy
    from sage_client.remote.script import run_script

    restart = RestartPolicy(args.restart, attempts=args.attempts, delay_s=args.delay)

    def go() -> int:
        handles = run_script(
            args.file,
            args.args,
            address=args.address,
            executor=args.executor,
            ray_address=args.ray_address,
            restart=restart,
            detach=args.detach,
        )
        if not handles:
            print(
                f"error: {args.file} submitted no job (does it call env.submit()?)", file=sys.stderr
            )
            return 1
        if args.detach:
            for handle in handles:
                print(handle.id)
        return 0

    return _run(go)


def _ls(args: argparse.Namespace) -> int:
    def go() -> int:
        numbered = getattr(args, "numbered", False)
        rows = [
            (
                *(("#",) if numbered else ()),
                "ID",
                "NAME",
                "STATE",
                "EXECUTOR",
                "RESTARTS",
                "CREATED",
            )
        ]
        for n, job in enumerate(_client(args).list(state=args.state)):
            if n >= args.limit:
                break
            rows.append(
                (
                    *((str(n + 1),) if numbered else ()),
                    job.id,
                    job.name,
                    job.state,
                    job.executor,
                    str(job.restart_count),
                    _when(job.create_time),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        return 0

    return _run(go)


def _print_job(job: Any) -> None:
    print(
        f"id:        {job.id}\nname:      {job.name}\nstate:     {job.state}\nexecutor:  {job.executor}"
    )
    print(
        f"restarts:  {job.restart_count}\ncreated:   {_when(job.create_time)}\nended:     {_when(job.end_time)}"
    )
    if job.worker_pid:
        print(f"worker:    pid {job.worker_pid}")
    if job.error:
        print(f"error:\n{job.error}")


def _status(args: argparse.Namespace) -> int:
    def go() -> int:
        client = _client(args)
        _print_job(client.get(resolve_job_id(client, args.id)))
        return 0

    return _run(go)


def _job_action(args: argparse.Namespace, action: str) -> int:
    def go() -> int:
        client = _client(args)
        _print_job(getattr(client, action)(resolve_job_id(client, args.id)))
        return 0

    return _run(go)


def _cancel(args: argparse.Namespace) -> int:
    return _job_action(args, "cancel")


def _pause(args: argparse.Namespace) -> int:
    return _job_action(args, "pause")


def _resume(args: argparse.Namespace) -> int:
    return _job_action(args, "resume")


def _delete(args: argparse.Namespace) -> int:
    def go() -> int:
        client = _client(args)
        job = client.delete(resolve_job_id(client, args.id), force=args.force)
        print(f"deleted {job.id} ({job.state})")
        return 0

    return _run(go)


def _logs(args: argparse.Namespace) -> int:
    def go() -> int:
        client = _client(args)
        for event in client.events(resolve_job_id(client, args.id), follow=args.follow):
            if event.WhichOneof("event") == "log_line":
                print(event.log_line, flush=True)
        return 0

    return _run(go)
