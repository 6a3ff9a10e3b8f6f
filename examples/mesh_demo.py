#!/usr/bin/env python3
"""A short tour of the running mesh through its front door (Envoy):
store, read back, compare-and-set, batch and scan with the KV service.

    sage mesh up && python examples/mesh_demo.py [--run-dir run]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sage_client import FailedPrecondition, KVClient, NotFound


def envoy_address(run_dir: Path) -> str:
    state = run_dir / "state.json"
    if not state.exists():
        raise SystemExit(
            f"no mesh state in {run_dir}/; start the mesh first: sage mesh up --run-dir {run_dir}"
        )
    return f"127.0.0.1:{json.loads(state.read_text())['ports']['envoy']}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-dir", default="run", type=Path)
    args = parser.parse_args()
    address = envoy_address(args.run_dir)
    print(f"== KV demo through Envoy at {address}")
    with KVClient("demo", address=address) as kv:
        kv.clear()
        version = kv.put("greeting", "hello, mesh")
        print(f"put   greeting = 'hello, mesh'          -> version {version}")
        print(f"get   greeting                          -> {kv.get('greeting').decode()!r}")
        version = kv.put("greeting", "hello again", expected_version=version)
        print(f"cas   greeting (expected v1)            -> version {version}")
        try:
            kv.put("greeting", "stale write", expected_version=1)
        except FailedPrecondition as exc:
            print(
                f"cas   greeting (expected v1 again)      -> refused: current version {exc.metadata['current_version']}"
            )
        versions = kv.batch_put(
            {f"city/{name}": name.title() for name in ("paris", "berlin", "tokyo", "lima")}
        )
        print(f"batch put 4 cities                      -> versions {versions}")
        found = kv.batch_get(["city/paris", "city/oslo", "city/tokyo"])
        print(
            f"batch get paris, oslo, tokyo            -> {sorted(k for k in found)} (oslo missing)"
        )
        print(
            "scan  city/                             -> "
            + ", ".join(e.key for e in kv.scan("city/"))
        )
        kv.put("session", "expires soon", ttl=60)
        print(
            f"ttl   session                           -> {kv.get_entry('session').ttl_ms // 1000} s left"
        )
        try:
            kv.get("nothing-here")
        except NotFound as exc:
            print(f"get   nothing-here                      -> NOT_FOUND: {exc.message}")
    print("== done: every call above went client -> Envoy -> KV service -> Redis")


if __name__ == "__main__":
    main()
