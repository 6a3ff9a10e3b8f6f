"""The commands that need no mesh: `sage version`, `sage doctor` with the mesh down (and with
what is missing), `sage config show|init`, `sage extensions status|install`, `sage chat`.
They run in this process (``cli``), except the embedded chat, a subprocess like a user's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Sage


def test_version_names_sage_mesh_and_the_native_core(cli: Cli) -> None:
    import sage_native

    code, out, _ = cli("version", "show", "--json")
    found = json.loads(out)
    assert code == 0 and found["sage_native"] == sage_native.__version__
    assert found["sage-mesh"].count(".") == 2


def test_doctor_with_the_mesh_down_says_how_to_start_it(cli: Cli) -> None:
    code, out, _ = cli("doctor", "--json")
    report = json.loads(out)
    mesh = next(c for c in report["checks"] if c["component"] == "mesh")
    assert mesh["state"] == "down" and mesh["fix"].startswith("sage mesh up")
    assert {"etcd", "redis-server", "envoy", "native core"} <= {
        c["component"] for c in report["checks"] if c["state"] in ("ok", "warn")
    }
    # a mesh that is down is not a missing component: the exit code counts only what is missing
    missing = [c for c in report["checks"] if c["state"] == "missing"]
    assert report["missing"] == len(missing) and code == (1 if missing else 0)


def test_doctor_names_a_missing_binary_and_its_fix(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # etcd, redis-server and envoy are not found
    code, out, _ = cli("doctor")
    assert code == 1
    assert "[MISSING] etcd" in out
    assert "fix: apt-get install -y etcd-server" in out


def test_config_init_then_show_reads_the_file(cli: Cli, sage: Sage) -> None:
    path = Path(sage.env["SAGE_CLI_CONFIG"])
    path.unlink()
    code, out, _ = cli("config", "init")
    assert code == 0 and "wrote" in out
    code, _, err = cli("config", "init")
    assert code == 1 and "--force" in err  # never overwritten silently
    path.write_text(path.read_text().replace("port: 19001", "port: 19555") + "workers: {}\n")
    shown = json.loads(cli("config", "show", "--json")[1])
    assert shown["settings"]["jobmanager"]["port"] == 19555
    assert shown["unused_keys"] == ["workers"]  # SAGE's own keys are kept, said unused
    from sage_cli.main import build_parser

    assert build_parser().parse_args(["jobmanager", "start"]).port == 19555


def test_config_show_refuses_a_malformed_file(cli: Cli, sage: Sage) -> None:
    Path(sage.env["SAGE_CLI_CONFIG"]).write_text("jobmanager: {port: high}\n")
    code, _, err = cli("config", "show")
    assert code == 1 and "jobmanager.port" in err


def test_extensions_status_reports_the_build_and_cpu_features(cli: Cli) -> None:
    code, out, _ = cli("extensions", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["built"] is True
    assert status["extensions"]["sage_db"]["present"] is True
    flags = Path("/proc/cpuinfo").read_text().split("flags", 1)[1].splitlines()[0].split()
    assert set(status["cpu_flags"]) <= set(flags)
    assert status["distance_kernels"] == ("avx2" if "avx2" in flags else "scalar")


def test_extensions_install_names_its_build_and_refuses_unknown_names(cli: Cli) -> None:
    code, out, _ = cli("extensions", "install", "sage_flow", "--dry-run")
    assert code == 0 and "pip install -q --no-build-isolation --no-deps -e" in out
    code, _, err = cli("extensions", "install", "sage_nothing")
    assert code == 2 and "unknown extension" in err


def test_chat_on_the_mesh_without_one_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("The job manager listens on port 19001.\n")
    code, _, err = cli("chat", "--source", str(tmp_path / "notes"), "--mode", "mesh", "--ask", "?")
    assert code == 1 and "sage mesh up" in err
    code, _, err = cli("chat", "--source", str(tmp_path / "nowhere"), "--ask", "x")
    assert code == 2 and "is not a folder" in err


@pytest.mark.slow
def test_chat_embedded_answers_with_its_sources(sage: Sage, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ports.md").write_text("# Ports\n\nThe job manager listens on port 19001.\n")
    (notes / "cake.md").write_text("# Cake\n\nA sponge cake needs eggs, flour and sugar.\n")
    args = ("chat", "--source", str(notes), "--mode", "embedded", "--backend", "mock")
    first = sage(*args, "--ask", "Which port does the job manager listen on?", timeout=300)
    assert first.returncode == 0, first.stderr
    assert "Q: Which port does the job manager listen on?" in first.stdout
    assert "sources: ports.md#0" in first.stdout  # the right file ranks first
    assert "indexing 2 files" in first.stderr
    assert "index (chunks embedded): done, 2 chunks" in first.stderr  # progress, plain lines
    # BM25 needs no query embedding: with the index kept, no model is loaded at all
    again = sage(*args, "--retriever", "bm25", "--ask", "What does a cake need?", timeout=300)
    assert "indexing" not in again.stderr  # the index is kept while the folder is unchanged
    assert "sources: cake.md#0" in again.stdout
