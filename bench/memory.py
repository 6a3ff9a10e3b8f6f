#!/usr/bin/env python3
"""Memory service latency through the whole path (client -> memory -> KV + VDB), one caller and
8 concurrent callers. Starts its own processes (see memory_stack.py): a redis-server with the
mesh's ACL and the KV on its ``redis`` backend (as deployed), the VDB, the LLM service (mock
engine, real all-MiniLM-L6-v2 embeddings) and the memory service; auth on.

    python bench/memory.py [--quick]     # full: 20k memories preloaded; quick: 5k ("n")

What is measured, each call a blocking SDK call (one caller) or an AsyncMemoryClient call from
8 callers back to back (measure.closed_loop; latency per call):
  memory_store_p50_ms / _p99_ms       StoreMemory with a precomputed vector (embedding excluded)
  memory_store_embed_p50_ms / _p99_ms StoreMemory with text only: the memory service embeds it
                                      through the LLM service (what a user calls)
  memory_search_p50_ms / _p99_ms      SearchMemories by vector within one of 20 sessions, top 10
  memory_search_all_sessions_p50_ms   SearchMemories by vector over every session
  *_8_callers_p50_ms / _p99_ms, *_8_callers_per_s   the same calls from 8 concurrent callers
There is no peer here: the figures stand against the 5 ms targets. The last stdout line is one
JSON object.

Targets: memory_store_p50_ms <= 5, memory_search_p50_ms <= 5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import numpy as np
from measure import closed_loop, percentile
from memory_stack import start_memory_stack

from sage_client.memory import AsyncMemoryClient, MemoryClient

DIM = 384
TARGET_MS = 5.0
CALLERS = 8
SESSIONS = [f"session-{i}" for i in range(20)]


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def pcts(prefix: str, values: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(percentile(values, 0.5), 3),
        f"{prefix}_p99_ms": round(percentile(values, 0.99), 3),
    }


async def concurrent(
    address: str, seconds: float, vectors: np.ndarray, queries: np.ndarray
) -> dict[str, float]:
    """The store, embedded store and search from CALLERS callers, back to back."""
    figures: dict[str, float] = {}
    async with AsyncMemoryClient(address=address) as client:
        counter = iter(range(10**9))

        def store():  # type: ignore[no-untyped-def]
            i = next(counter)
            return client.store_memory(
                SESSIONS[i % 20], f"c {i}", {"i": i}, vector=vectors[i % len(vectors)]
            )

        def embed():  # type: ignore[no-untyped-def]
            i = next(counter)
            return client.store_memory("embedded-8", f"the user said concurrent thing {i}")

        def search():  # type: ignore[no-untyped-def]
            i = next(counter)
            return client.search_memories(
                queries[i % len(queries)], session_id=SESSIONS[i % 20], top_k=10
            )

        for name, call in (
            ("memory_store", store),
            ("memory_store_embed", embed),
            ("memory_search", search),
        ):
            await closed_loop(0.3, call, CALLERS)  # warm-up
            rate, lat = await closed_loop(seconds, call, CALLERS, record_latency=True)
            figures.update(pcts(f"{name}_{CALLERS}_callers", lat))
            figures[f"{name}_{CALLERS}_callers_per_s"] = round(rate, 1)
    return figures


def main() -> None:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5k memories, about a minute")
    args = parser.parse_args()
    preload, stores, searches, embeds, seconds = (
        (5000, 300, 300, 100, 2.0) if args.quick else (20000, 2000, 2000, 300, 8.0)
    )

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((preload + stores, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((searches, DIM)).astype(np.float32)

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        stack = start_memory_stack(Path(tmp), kv_redis=True)
        try:
            with MemoryClient(address=stack.memory) as client:
                t0 = time.perf_counter()
                with ThreadPoolExecutor(CALLERS) as pool:  # preload from 8 threads
                    list(
                        pool.map(
                            lambda i: client.store_memory(
                                SESSIONS[i % 20],
                                f"preloaded memory {i}",
                                {"i": i},
                                vector=vectors[i],
                            ),
                            range(preload),
                        )
                    )
                preload_s = time.perf_counter() - t0
                store_ms = [
                    timed(
                        lambda i=i: client.store_memory(
                            SESSIONS[i % 20], f"memory {i}", {"i": i}, vector=vectors[preload + i]
                        )
                    )
                    for i in range(stores)
                ]
                search_ms = [
                    timed(
                        lambda q=q, i=i: client.search_memories(
                            q, session_id=SESSIONS[i % 20], top_k=10
                        )
                    )
                    for i, q in enumerate(queries)
                ]
                search_all_ms = [
                    timed(lambda q=q: client.search_memories(q, top_k=10)) for q in queries[:100]
                ]
                client.store_memory("embedded", "warm-up of the embedding path")
                embed_ms = [
                    timed(
                        lambda i=i: client.store_memory(
                            "embedded", f"the user said thing number {i}"
                        )
                    )
                    for i in range(embeds)
                ]
            many = asyncio.run(concurrent(stack.memory, seconds, vectors, queries))
        finally:
            stack.stop()

    figures = {
        "memory_store_p50_ms": round(percentile(store_ms, 0.5), 3),
        "memory_search_p50_ms": round(percentile(search_ms, 0.5), 3),
        "memory_search_all_sessions_p50_ms": round(percentile(search_all_ms, 0.5), 3),
        "memory_store_embed_p50_ms": round(percentile(embed_ms, 0.5), 3),
        "memory_store_target_met": percentile(store_ms, 0.5) <= TARGET_MS,
        "memory_search_target_met": percentile(search_ms, 0.5) <= TARGET_MS,
        "preloaded_memories": preload,
        "vdb": stack.vdb_module,
        "quick": args.quick,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "memory_store_p99_ms": round(percentile(store_ms, 0.99), 3),
        "memory_search_p99_ms": round(percentile(search_ms, 0.99), 3),
        "memory_search_all_sessions_p99_ms": round(percentile(search_all_ms, 0.99), 3),
        "memory_store_embed_p99_ms": round(percentile(embed_ms, 0.99), 3),
        **many,
        "preload_memories_per_s": round(preload / preload_s, 1),
        "kv_backend": stack.kv_backend,
        "n": preload,
        "callers": CALLERS,
        "seconds_per_concurrent_phase": seconds,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
