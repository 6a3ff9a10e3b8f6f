#!/usr/bin/env python3
"""Memory service latency: StoreMemory and SearchMemories p50 through the whole path
(client -> memory -> KV + VDB), with precomputed vectors so embedding time is excluded, and a
store with embedding by the LLM service for reference. Starts its own KV, VDB, LLM and memory
processes (see memory_stack.py).

    python bench/memory.py [--quick]

Targets: memory_store_p50_ms <= 5, memory_search_p50_ms <= 5. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import numpy as np
from memory_stack import start_memory_stack

from sage_client.memory import MemoryClient

DIM = 384
TARGET_MS = 5.0


def p50(values: list[float]) -> float:
    return float(np.percentile(values, 50))


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute")
    args = parser.parse_args()
    preload, stores, searches, embeds = (
        (2000, 300, 300, 50) if args.quick else (20000, 2000, 2000, 200)
    )

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((preload + stores, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((searches, DIM)).astype(np.float32)
    sessions = [f"session-{i}" for i in range(20)]

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        stack = start_memory_stack(Path(tmp))
        try:
            with MemoryClient(address=stack.memory) as client:
                for i in range(preload):
                    client.store_memory(
                        sessions[i % len(sessions)],
                        f"preloaded memory {i}",
                        {"i": i},
                        vector=vectors[i],
                    )
                store_ms = [
                    timed(
                        lambda i=i: client.store_memory(
                            sessions[i % len(sessions)],
                            f"memory {i}",
                            {"i": i},
                            vector=vectors[preload + i],
                        )
                    )
                    for i in range(stores)
                ]
                search_ms = [
                    timed(
                        lambda q=q, i=i: client.search_memories(
                            q, session_id=sessions[i % len(sessions)], top_k=10
                        )
                    )
                    for i, q in enumerate(queries)
                ]
                search_all_ms = [
                    timed(lambda q=q: client.search_memories(q, top_k=10)) for q in queries[:100]
                ]
                embed_ms = [
                    timed(
                        lambda i=i: client.store_memory(
                            "embedded", f"the user said thing number {i}"
                        )
                    )
                    for i in range(embeds)
                ]
        finally:
            stack.stop()

    figures = {
        "memory_store_p50_ms": round(p50(store_ms), 3),
        "memory_search_p50_ms": round(p50(search_ms), 3),
        "memory_search_all_sessions_p50_ms": round(p50(search_all_ms), 3),
        "memory_store_embed_p50_ms": round(p50(embed_ms), 3),
        "memory_store_target_met": p50(store_ms) <= TARGET_MS,
        "memory_search_target_met": p50(search_ms) <= TARGET_MS,
        "preloaded_memories": preload,
        "vdb": stack.vdb_module,
        "quick": args.quick,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
