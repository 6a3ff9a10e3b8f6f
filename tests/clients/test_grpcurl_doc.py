"""docs/grpcurl.md shows real commands: each one is run against the live mesh (through
tests/clients/grpcurl_lite.py, as grpcurl is not installable here) and the outputs the doc
shows are the outputs the services give."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sage_client.credentials import default_token
from tests.clients import grpcurl_lite
from tests.clients.conftest import LiveMesh

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "grpcurl.md").read_text()
BUF = shutil.which("buf") or str(ROOT / "node_modules" / ".bin" / "buf")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)


def _commands(variable: str) -> list[str]:
    lines = [line.strip() for block in _blocks("bash") for line in block.splitlines()]
    return [line for line in lines if line.startswith("grpcurl ") and f"${variable} " in line + " "]


def _run(command: str, addresses: dict[str, str], cwd: Path = ROOT) -> str:
    addresses = {**addresses, "AUTH": f"authorization: Bearer {default_token()}"}
    for variable, address in addresses.items():
        command = command.replace(f"${variable}", address)
    return grpcurl_lite.run(command, cwd)


def _clear_demo_namespace(kv_address: str) -> None:
    """The doc's KV commands write namespace "demo"; each test starts from an empty one."""
    grpcurl_lite.run(
        f"grpcurl -plaintext -H 'authorization: Bearer {default_token()}' -d '{{\"namespace\": \"demo\"}}' {kv_address} sage.kv.v1.KVService/Clear"
    )


def test_the_doc_covers_every_service_with_commands() -> None:
    for variable in ("KV", "VDB", "LLM", "ENVOY"):
        assert _commands(variable), f"no grpcurl command against ${variable} in docs/grpcurl.md"


def test_kv_commands_run_and_print_what_the_doc_shows(live_mesh: LiveMesh) -> None:
    addresses = {"KV": live_mesh.instances["kv"]}
    _clear_demo_namespace(addresses["KV"])
    outputs = {command: _run(command, addresses) for command in _commands("KV")}

    listed = outputs['grpcurl -plaintext -H "$AUTH" $KV list']
    assert listed.split() == _blocks("text")[0].split()
    described = outputs['grpcurl -plaintext -H "$AUTH" $KV describe sage.kv.v1.KVService.Put']
    assert described == "rpc Put(sage.kv.v1.PutRequest) returns (sage.kv.v1.PutResponse)"
    get = next(out for command, out in outputs.items() if command.endswith("KVService/Get"))
    assert json.loads(get) == json.loads(_blocks("json")[0])


def test_a_failed_call_reports_the_status(live_mesh: LiveMesh) -> None:
    cas = next(c for c in _commands("KV") if "expectedVersion" in c)
    addresses = {"KV": live_mesh.instances["kv"]}
    _clear_demo_namespace(addresses["KV"])
    for command in _commands("KV"):
        if "KVService/Put" in command:
            _run(command, addresses)  # the second Put is `cas` itself: the key is now at version 2
    with pytest.raises(
        grpcurl_lite.GrpcurlError, match="Code: FailedPrecondition, Message: .*current version is 2"
    ):
        _run(cas, addresses)


@pytest.mark.skipif(
    not Path(BUF).exists(), reason="buf not installed (npm install at the repo root)"
)
def test_envoy_commands_run_with_a_protoset(live_mesh: LiveMesh, tmp_path: Path) -> None:
    build = next(
        line.strip()
        for block in _blocks("bash")
        for line in block.splitlines()
        if "buf.sh build" in line
    )
    command, output = (part.strip() for part in build.split("-o", 1))
    subprocess.run(
        [*command.split(), "-o", str(tmp_path / output)],
        cwd=ROOT,
        check=True,
        timeout=60,
        env={**os.environ, "BUF": BUF},
    )
    put = next(c for c in _commands("KV") if c.endswith("KVService/Put"))
    _run(put, {"KV": live_mesh.instances["kv"]})  # demo/greeting exists, whatever ran before
    for command in _commands("ENVOY"):
        reply = json.loads(_run(command, {"ENVOY": live_mesh.envoy}, cwd=tmp_path))
        assert reply["entry"]["key"] == "greeting"


def test_vdb_commands_run_and_the_filter_applies(live_mesh: LiveMesh) -> None:
    live_mesh.require("vdb")
    addresses = {"VDB": live_mesh.instances["vdb"]}
    outputs = [_run(command, addresses) for command in _commands("VDB")]
    search = json.loads(
        next(
            out
            for command, out in zip(_commands("VDB"), outputs, strict=True)
            if command.endswith("/Search")
        )
    )
    assert search["results"][0]["ids"] == ["b", "c"]


def test_llm_commands_stream(live_mesh: LiveMesh) -> None:
    live_mesh.require("llm")
    addresses = {"LLM": live_mesh.instances["llm"]}
    stream_command = next(c for c in _commands("LLM") if c.endswith("/GenerateStream"))
    for command in _commands("LLM"):
        _run(command, addresses)
    messages = [json.loads(part) for part in re.split(r"\n(?=\{)", _run(stream_command, addresses))]
    assert len(messages) > 1
    assert messages[-1]["finishReason"] != "FINISH_REASON_UNSPECIFIED"
