"""docs/deploy.md's "JSON/HTTP and browsers" shows real commands: the `sage` commands that
write its data and the curl commands that read it through Envoy run against the live mesh, and
print what the doc shows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from sage_client.channels import authorized_channel
from sage_client.credentials import default_token
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc
from tests.clients.conftest import LiveMesh

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.search(
    r"^## JSON/HTTP and browsers\n(.*?)(?=^## |\Z)",
    (ROOT / "docs" / "deploy.md").read_text(),
    re.DOTALL | re.MULTILINE,
)
assert SECTION, "docs/deploy.md has no 'JSON/HTTP and browsers' section"
DOC = SECTION.group(1)


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)


def _sh(script: str, envoy: str) -> str:
    """Run doc lines with bash, ENVOY pointing at the live mesh and this interpreter's `sage` on PATH."""
    script = re.sub(r"^ENVOY=\S+$", f"ENVOY={envoy}", script, flags=re.MULTILINE)
    env = {
        **os.environ,
        "ENVOY": envoy,
        "SAGE_TOKEN": default_token() or "",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def outputs(live_mesh: LiveMesh) -> dict[str, str]:
    """The doc's data written by its own commands (from scratch), then every curl line's output."""
    live_mesh.require("vdb")
    with authorized_channel(live_mesh.envoy) as channel:
        kv_pb2_grpc.KVServiceStub(channel).Clear(kv_pb2.ClearRequest(namespace="demo"))
        try:
            vdb_pb2_grpc.VDBServiceStub(channel).DeleteCollection(
                vdb_pb2.DeleteCollectionRequest(name="http_docs")
            )
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
    setup, *reads = _blocks("bash")
    _sh(setup, live_mesh.envoy)
    curls = [
        line.strip()
        for block in reads
        for line in block.splitlines()
        if line.strip().startswith("curl ")
    ]
    return {line: _sh(line, live_mesh.envoy) for line in curls}


def test_every_http_rule_is_in_the_table() -> None:
    from sage_deploy.descriptors import http_rules, transcoded_services

    for service in transcoded_services():
        for method in http_rules(service):
            short = service.rsplit(".", 1)[1]
            assert f"`{short}.{method}`" in DOC or f"`{method}`" in DOC, (
                f"{short}.{method} is not in the table"
            )


def test_the_reads_print_what_the_doc_shows(outputs: dict[str, str]) -> None:
    reads = [out for line, out in outputs.items() if "missing" not in line]
    shown = [json.loads(block) for block in _blocks("json")]
    assert [json.loads(out) for out in reads] == shown


def test_the_error_example_prints_its_status_and_json_body(outputs: dict[str, str]) -> None:
    out = next(out for line, out in outputs.items() if "missing" in line)
    body, code = out.rsplit(" ", 1)
    shown_body, shown_code = _blocks("text")[0].strip().rsplit(" ", 1)
    assert code.strip() == shown_code == "404"
    answer, expected = json.loads(body), json.loads(shown_body)
    assert answer["details"] == expected["details"]
    # The message lists the collections that exist, which in this mesh are more than the doc's.
    assert answer["message"].split(" (existing")[0] == expected["message"].split(" (existing")[0]
