"""`sage vdb create|ls|upsert --file|search` against a real service."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sage_client import InvalidArgument
from sage_client.vdb import VDBClient
from tests.conftest import ServiceProcess


def _sage(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sage_cli.main", "vdb", "--address", address, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_upsert_file_search_and_ls(vdb_service: ServiceProcess, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    rows = [
        {
            "id": f"r{i}",
            "vector": [float(i), 1.0, 0.0],
            "metadata": {"i": i},
            "document": f"row {i}",
        }
        for i in range(25)
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    address = vdb_service.address
    created = _sage(
        address, "create", "cli-docs", "--dimension", "3", "--metric", "l2", "--index", "flat"
    )
    assert created.returncode == 0, created.stderr
    loaded = _sage(address, "upsert", "cli-docs", "--file", str(data), "--batch-size", "10")
    assert loaded.returncode == 0, loaded.stderr
    assert "upserted 25 points" in loaded.stdout
    progress = loaded.stderr.splitlines()  # not a terminal: plain lines, count and rate
    assert progress[0] == "upsert cli-docs: 0/25 points (0%)"
    assert progress[-1].startswith("upsert cli-docs: done, 25 points in ")
    assert progress[-1].endswith(" points/s)")
    found = _sage(
        address,
        "search",
        "cli-docs",
        "--vector",
        "[7.2, 1.0, 0.0]",
        "-k",
        "2",
        "--where",
        '{"i": {"$lt": 7}}',
    )
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert [h["id"] for h in hits] == ["r6", "r5"] and hits[0]["metadata"] == {"i": 6}
    listed = _sage(address, "ls")
    assert any(line.startswith("cli-docs\t25\t") for line in listed.stdout.splitlines())


def test_bad_file_line_is_reported_with_its_number(
    vdb_service: ServiceProcess, tmp_path: Path
) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "a", "vector": [1, 2]}\nnot json\n')
    address = vdb_service.address
    assert _sage(address, "create", "cli-bad", "--dimension", "2").returncode == 0
    result = _sage(address, "upsert", "cli-bad", "--file", str(data))
    assert result.returncode == 2
    assert "bad.jsonl:2" in result.stderr


def test_stream_keeps_the_callers_own_error(vdb_service: ServiceProcess) -> None:
    def batches():  # type: ignore[no-untyped-def]
        yield {"ids": ["x"], "vectors": [[1.0, 2.0]]}
        yield {"ids": ["y", "z"], "vectors": [[1.0, 2.0]]}  # one vector for two ids

    with VDBClient(address=vdb_service.address) as vdb:
        vdb.create_collection("stream-err", 2)
        with pytest.raises(InvalidArgument, match="1 vectors for 2 ids"):
            vdb.upsert_stream("stream-err", batches())
