"""`sage pipeline run|validate|ops`: pipelines written as data (sage_client.pipeline_spec), the
spec Studio's Builder saves.

sage pipeline ops                        # the operators a spec may use, with their parameters
sage pipeline validate words.json        # checks it; exit 2 with the reason when it is wrong
sage pipeline run words.json             # in this process; the collected records as JSON lines
sage pipeline run words.json --remote    # on the job manager (SAGE_KERNEL_ADDR or discovery)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(groups: argparse._SubParsersAction) -> None:
    pipeline = groups.add_parser("pipeline", help="run pipelines written as JSON/YAML specs")
    sub = pipeline.add_subparsers(dest="action", required=True)
    p = sub.add_parser("run", help="run a spec, print the records that reach sink.collect")
    p.add_argument("file", help="a .json or .yaml pipeline spec")
    p.add_argument("--remote", action="store_true", help="submit it to the job manager")
    p.add_argument("--address", help="host:port of the job manager (default: discovery)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait (remote)")
    p.set_defaults(func=_run)
    p = sub.add_parser("validate", help="check a spec without running it")
    p.add_argument("file")
    p.set_defaults(func=_validate)
    p = sub.add_parser("ops", help="list the operators a spec may use")
    p.set_defaults(func=_ops)


def _load(path: str) -> Any:
    from sage_client.pipeline_spec import SpecError, load

    try:
        return load(path)
    except OSError as exc:
        print(f"sage pipeline: cannot read {path}: {exc.strerror}", file=sys.stderr)
    except SpecError as exc:
        print(f"sage pipeline: {path}: {exc}", file=sys.stderr)
    return None


def _validate(args: argparse.Namespace) -> int:
    spec = _load(args.file)
    if spec is None:
        return 2
    print(f"{args.file}: {spec.name}, {len(spec.operators)} operators, {len(spec.edges)} edges")
    return 0


def _ops(args: argparse.Namespace) -> int:
    from sage_client.pipeline_spec import catalogue

    for entry in catalogue():
        params = ", ".join(f"{p['name']}={p['default']!r}" for p in entry["params"])
        print(
            f"{entry['op']:<22} {entry['role']:<8} {entry['help']}"
            + (f" ({params})" if params else "")
        )
    return 0


def _run(args: argparse.Namespace) -> int:
    from sage_client import LocalEnvironment
    from sage_client.pipeline_spec import build

    spec = _load(args.file)
    if spec is None:
        return 2
    if not args.remote:
        kept: list[Any] = []
        build(spec, LocalEnvironment(spec.name), collect=kept.append).submit(autostop=True)
        for record in kept:
            print(json.dumps(record, default=repr))
        return 0
    from sage_client import JobClient

    env = build(spec, LocalEnvironment(spec.name))  # only builds the graph
    with JobClient(address=args.address) as jobs:
        handle = jobs.submit(env.graph, collect_result=True)
        print(f"submitted {handle.id}", file=sys.stderr)
        info = handle.wait(timeout=args.timeout)
        if info.state != "succeeded":
            print(f"job {handle.id} {info.state}: {info.error}", file=sys.stderr)
            return 1
        for record in handle.result():
            print(json.dumps(record, default=repr))
    return 0
