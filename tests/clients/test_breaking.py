"""scripts/check_breaking.sh: `buf breaking` (WIRE_JSON) against the previous commit passes on
this repository and fails on a deliberately broken copy of a proto in a scratch git repo; and
`buf lint` through scripts/buf.sh is clean on a clone that has no build/ yet."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = shutil.which("buf") or str(ROOT / "node_modules" / ".bin" / "buf")
KV_PROTO = Path("protos/sage/kv/v1/kv.proto")
BUF_SCRIPTS = ("check_breaking.sh", "buf.sh", "proto_deps.py")

pytestmark = pytest.mark.skipif(
    not Path(BUF).exists(), reason="buf not installed (npm install at the repo root)"
)


def _check(repo: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/check_breaking.sh"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BUF": BUF, **env},
    )


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _buf(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/buf.sh", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BUF": BUF},
    )


def _commit_all(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    """A git repo on `main` holding this repo's buf.yaml, protos/ and the scripts, one commit
    (no build/: the scripts fill build/proto-deps themselves, as on a clean clone)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "buf.yaml", repo / "buf.yaml")
    shutil.copytree(ROOT / "protos", repo / "protos")
    for script in BUF_SCRIPTS:
        shutil.copy(ROOT / "scripts" / script, repo / "scripts" / script)
    _git(repo, "init", "-q", "-b", "main")
    _commit_all(repo, "contracts")
    return repo


def _edit(repo: Path, path: Path, old: str, new: str) -> None:
    text = (repo / path).read_text()
    assert old in text
    (repo / path).write_text(text.replace(old, new))


def test_this_repository_is_compatible_with_its_previous_commit() -> None:
    result = _check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check_breaking:" in result.stdout


def test_first_commit_is_skipped_with_a_message(scratch_repo: Path) -> None:
    result = _check(scratch_repo)
    assert result.returncode == 0, result.stderr
    assert "skipped: no commit 'HEAD~1'" in result.stdout


def test_changing_a_field_type_in_place_fails(scratch_repo: Path) -> None:
    _edit(scratch_repo, KV_PROTO, "  int64 version = 1;\n}", "  string version = 1;\n}")
    _commit_all(scratch_repo, "break PutResponse.version")
    result = _check(scratch_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PutResponse" in result.stdout + result.stderr
    assert "sage.kv.v2 next to sage.kv.v1" in result.stderr


def test_renumbering_a_field_fails_before_it_is_committed(scratch_repo: Path) -> None:
    # The working tree is what gets compared, so an uncommitted edit is caught too.
    _edit(scratch_repo, KV_PROTO, "  string prefix = 2;", "  string prefix = 9;")
    _git(scratch_repo, "commit", "-q", "--allow-empty", "-m", "second commit")
    result = _check(scratch_repo)
    assert result.returncode == 1, result.stdout + result.stderr


def test_adding_a_field_passes(scratch_repo: Path) -> None:
    _edit(
        scratch_repo,
        KV_PROTO,
        "  bool include_values = 5;\n",
        "  bool include_values = 5;\n  // Only keys with at least this version.\n  int64 min_version = 6;\n",
    )
    _commit_all(scratch_repo, "add ScanRequest.min_version")
    result = _check(scratch_repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_same_change_in_a_new_package_version_passes(scratch_repo: Path) -> None:
    v2 = Path("protos/sage/kv/v2/kv.proto")
    (scratch_repo / v2).parent.mkdir(parents=True)
    text = (scratch_repo / KV_PROTO).read_text()
    text = text.replace("package sage.kv.v1;", "package sage.kv.v2;").replace(
        "/kv/v1;kvv1", "/kv/v2;kvv2"
    )
    (scratch_repo / v2).write_text(
        text.replace("  int64 version = 1;\n}", "  string version = 1;\n}")
    )
    _commit_all(scratch_repo, "sage.kv.v2 with a string version")
    result = _check(scratch_repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_is_clean_on_a_clean_clone(scratch_repo: Path) -> None:
    assert not (scratch_repo / "build").exists()
    result = _buf(
        scratch_repo, "lint"
    )  # STANDARD + COMMENTS (buf.yaml); build/proto-deps is not linted
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        scratch_repo / "build" / "proto-deps" / "google" / "api" / "annotations.proto"
    ).is_file()


def test_adding_http_rules_is_not_a_break(scratch_repo: Path) -> None:
    _edit(
        scratch_repo,
        KV_PROTO,
        '    option (google.api.http) = {get: "/v1/kv/namespaces/{namespace}/keys"};\n',
        "",
    )
    _commit_all(scratch_repo, "Scan without its HTTP rule")
    _git(scratch_repo, "revert", "--no-edit", "HEAD")  # ... and with it again
    result = _check(scratch_repo)
    assert result.returncode == 0, result.stdout + result.stderr
