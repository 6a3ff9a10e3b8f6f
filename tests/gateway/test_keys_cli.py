"""`sage keys create|ls|revoke` against the mesh's KV service; a revoked key stops working."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.gateway.conftest import LiveMesh


def sage(mesh: LiveMesh, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sage_cli.main",
            "keys",
            "--address",
            mesh.endpoints.instances["kv-0"],
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_list_revoke(live_mesh: LiveMesh) -> None:
    created = sage(live_mesh, "create", "--user", "cli-user", "--rpm", "100", "--json")
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    key = record.pop("key")
    assert key.startswith("sk-sage-") and record["user"] == "cli-user" and record["rpm"] == 100

    listed = json.loads(sage(live_mesh, "ls", "--json").stdout)
    assert record["id"] in [r["id"] for r in listed] and key not in json.dumps(listed)
    auth = {"authorization": f"Bearer {key}"}
    assert httpx.get(f"{live_mesh.base_url}/sessions", headers=auth).status_code == 200

    revoked = sage(live_mesh, "revoke", record["id"])
    assert revoked.returncode == 0 and record["id"] in revoked.stdout
    assert (
        httpx.get(f"{live_mesh.base_url}/sessions", headers=auth).status_code == 401
    )  # key_cache_s is 0 here


def test_revoking_an_unknown_id_says_how_to_find_ids(live_mesh: LiveMesh) -> None:
    result = sage(live_mesh, "revoke", "ffffffffffff")
    assert result.returncode == 1 and "sage keys ls" in result.stderr
