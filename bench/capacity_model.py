"""Capacity model for docs/scale.md: how many instances/shards of each part a target load
needs, from the per-instance figures measured on this 2-core host (docs/benchmarks.md).

    python bench/capacity_model.py [--vectors N] [--search-qps Q] [--chat-rps R] ...

Nothing is measured here: the inputs are the benchmarks' figures (``MEASURED``, each naming
its benchmark) and the documented limits of the engines we build on (``LIMITS``); the
arithmetic is the plan's (sharding, replicas, scatter-gather fan-out). It prints one JSON
object on its last line. Rerun the benchmarks on the target hardware and pass the new figures
with ``--measured '{"vdb_qps_per_core": ...}'`` before sizing a real deployment.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

# Per instance, one 2-core host, docs/benchmarks.md (2026-12-03, quick runs).
MEASURED: dict[str, float] = {
    "vdb_qps_per_core": 7599,  # bench/vdb_core.py: one query, one thread, 10k x 128-d, recall 0.996
    "vdb_index_vectors": 10_000,  # ... at this index size
    "gateway_rps": 714,  # bench/gateway.py: wrk through Envoy + gateway, 32 connections
    "llm_tok_s": 98.4,  # bench/llm.py: llamacpp, 8 streams, SmolLM2-135M Q4_1 on CPU
    "tsdb_points_s": 1_270_000,  # bench/tsdb.py: ingest
    "kv_get_rps": 3887,  # bench/kv.py: Get, memory backend, 16 in flight
    "kv_get_rps_redis": 2003,  # bench/kv.py: Get, Redis backend
    "redis_get_rps": 1_000_000,  # bench/kv.py: redis-benchmark -P 16, the server's ceiling
}

# Documented limits of the engines (their own docs), not measured here.
LIMITS: dict[str, float] = {
    "etcd_db_bytes_max": 8 * 2**30,  # etcd: 2 GiB default quota, 8 GiB suggested maximum
    "etcd_request_bytes_max": 1.5 * 2**20,
    "etcd_writes_s": 10_000,  # a conservative sustained write rate for a 3-member cluster
    "redis_cluster_slots": 16_384,
}

BYTES_PER_VECTOR_EXTRA = 16 * 2 * 4 + 8  # HNSW links (M 16, level 0 has 2M) + id


def vdb(args: argparse.Namespace, m: dict[str, float]) -> dict[str, Any]:
    per_vector = args.dims * 4 + args.dims + BYTES_PER_VECTOR_EXTRA  # float + 8-bit codes
    shard_vectors = int(args.shard_memory_gib * 2**30 * 0.7 / per_vector)  # 30% headroom
    shards = max(1, math.ceil(args.vectors / shard_vectors))
    # HNSW's cost grows with log(size) and with the dimension (distance work)
    per_core = (
        m["vdb_qps_per_core"]
        * math.log(m["vdb_index_vectors"])
        / math.log(min(args.vectors, shard_vectors))
        * 128
        / args.dims
    )
    per_shard_replica = per_core * args.cores_per_node
    # scatter-gather: every query visits every shard, so a replica set of all shards serves
    # per_shard_replica queries/s; replicas multiply it
    replicas = max(1, math.ceil(args.search_qps / per_shard_replica))
    return {
        "vectors_per_shard": shard_vectors,
        "shards": shards,
        "replicas_per_shard": replicas,
        "shard_nodes": shards * replicas,
        "queries_per_shard_replica_s": round(per_shard_replica),
        "fan_out_per_query": shards,
        # each shard returns its own top k: the merged top k keeps each shard's recall (a true
        # neighbour lives in one shard); over-fetching k' = 2k per shard costs ~2x merge work
        "recall_after_merge": "per-shard recall (0.996 measured); exact merge",
        "latency_p99_factor_vs_one_shard": round(1 + math.log(shards) / 4, 2),
    }


def llm(args: argparse.Namespace, m: dict[str, float]) -> dict[str, Any]:
    tokens_s = args.chat_rps * args.tokens_per_reply
    return {
        "tokens_s": tokens_s,
        "instances_at_measured_cpu_rate": math.ceil(tokens_s / m["llm_tok_s"]),
        "note": "CPU figure of a 135M model; route by model, then by least queue depth",
    }


def figures(args: argparse.Namespace, m: dict[str, float]) -> dict[str, Any]:
    instances = {
        "gateway": math.ceil(args.chat_rps / m["gateway_rps"]),
        "tsdb_partitions": math.ceil(args.tsdb_points_s / m["tsdb_points_s"]),
        "kv_service": math.ceil(args.kv_gets_s / m["kv_get_rps_redis"]),
        "redis_cluster_primaries": max(3, math.ceil(args.kv_gets_s / m["redis_get_rps"])),
    }
    services = sum(instances.values()) + vdb(args, m)["shard_nodes"]
    keepalives_s = services * 3 / args.lease_ttl_s  # one keepalive every TTL/3 per instance
    return {
        "n": 1,
        "quick": False,
        "inputs": vars(args),
        "measured": m,
        "vdb": vdb(args, m),
        "llm": llm(args, m),
        "instances": instances,
        "etcd": {
            "registered_instances": services,
            "lease_keepalives_s": round(keepalives_s, 1),
            "share_of_write_budget": round(keepalives_s / LIMITS["etcd_writes_s"], 4),
            "fits": keepalives_s < 0.1 * LIMITS["etcd_writes_s"],
        },
        "limits": LIMITS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vectors", type=float, default=1e9)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--search-qps", type=float, default=20_000)
    parser.add_argument("--chat-rps", type=float, default=2_000)
    parser.add_argument("--tokens-per-reply", type=int, default=300)
    parser.add_argument("--tsdb-points-s", type=float, default=5e6)
    parser.add_argument("--kv-gets-s", type=float, default=200_000)
    parser.add_argument("--shard-memory-gib", type=float, default=64)
    parser.add_argument("--cores-per-node", type=int, default=16)
    parser.add_argument("--lease-ttl-s", type=float, default=10)
    parser.add_argument("--measured", default="{}", help="JSON overriding MEASURED figures")
    args = parser.parse_args()
    measured = {**MEASURED, **json.loads(args.measured)}
    del args.measured
    print(json.dumps(figures(args, measured)))


if __name__ == "__main__":
    main()
