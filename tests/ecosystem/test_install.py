"""One install list (scripts/install-python.sh) shared by the README's first command
(scripts/setup.sh), quickstart.sh and deploy/Dockerfile; what it installs is enough for every
service and its default engine; the image runs as a non-root user; quickstart's flags."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.background import Background, step
from tests.ecosystem.test_wheel import fresh_venv

ROOT = Path(__file__).resolve().parents[2]
SETUP = (ROOT / "scripts" / "setup.sh").read_text()
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
INSTALL = (ROOT / "scripts" / "install-python.sh").read_text()
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FIRST_PARTY = set(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]["isort"][
        "known-first-party"
    ]
)


def _profile_extras(profile: str) -> list[str]:
    match = re.search(rf"^\s*{profile}\) extras=\"([\w,]+)\" ;;", INSTALL, re.MULTILINE)
    assert match, f"install-python.sh has no profile {profile!r}"
    return match.group(1).split(",")


def _closure(extras: list[str]) -> set[str]:
    """The distributions that `pip install sage-mesh[extras]` brings, read from installed metadata."""
    wanted, seen = [("sage-mesh", frozenset(extras))], set()
    names: set[str] = set()
    while wanted:
        name, chosen = wanted.pop()
        if (name, chosen) in seen:
            continue
        seen.add((name, chosen))
        names.add(canonicalize_name(name))
        if canonicalize_name(name) == "sage-mesh":  # this tree's pyproject, not an old install
            requires = [*PROJECT["dependencies"]]
            for extra in chosen:
                requires += [
                    f"{r}; extra == '{extra}'" if ";" not in r else r
                    for r in PROJECT["optional-dependencies"][extra]
                ]
        else:
            try:
                requires = metadata.distribution(name).requires or []
            except metadata.PackageNotFoundError:
                continue  # an optional platform dependency that is not installed here
        for line in requires:
            req = Requirement(line)
            envs = [{"extra": e} for e in chosen] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                wanted.append((req.name, frozenset(req.extras)))
    return names


def _nodeps() -> set[str]:
    lines = (ROOT / "scripts" / "pip-nodeps.txt").read_text().splitlines()
    return {canonicalize_name(Requirement(x).name) for x in lines if x.strip() and x[0] != "#"}


def _script_installed() -> set[str]:
    """What the install scripts both setup.sh and the Dockerfile run install by name."""
    text = (ROOT / "scripts" / "install-llamacpp.sh").read_text()
    return {canonicalize_name(n) for n in re.findall(r'pip install [^"]*"([\w-]+)==', text)}


PROBE = """
import importlib, importlib.abc, importlib.util, json, sys
from importlib import metadata
from packaging.utils import canonicalize_name
allowed = set(json.loads(sys.argv[1]))
owners = metadata.packages_distributions()

class OnlyTheList(importlib.abc.MetaPathFinder):
    # as in a clean venv of the list: what only other distributions provide is not there
    def find_spec(self, name, path=None, target=None):
        dists = owners.get(name.split(".")[0])
        if path is None and dists and not {canonicalize_name(d) for d in dists} & allowed:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the install list)")
        return None

sys.meta_path.insert(0, OnlyTheList())
_find_spec = importlib.util.find_spec

def find_spec(name, package=None):  # "is it installed?" answers no, as in that venv
    try:
        return _find_spec(name, package)
    except ModuleNotFoundError:
        return None

importlib.util.find_spec = find_spec
from sage_deploy.topology import load_topology
for service in load_topology().services:
    importlib.import_module(service.module)
from sage_llm.model_files import resolve_model_path
from sage_llm.selection import choose_engine
path = resolve_model_path("")  # the bundled model the default configuration serves
choice = choose_engine("auto", path)
importlib.import_module(f"sage_llm.engines.{choice.engine}_engine")
import torch, transformers  # what the transformers engine runs on
tops = {m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names)
import sage_native
print(json.dumps({"engine": choice.engine, "model": str(path), "native": sage_native.__file__,
                  "owners": {t: owners[t] for t in sorted(tops) if t in owners},
                  "orphans": sorted(t for t in tops if t not in owners and not t.startswith("_")
                                   and getattr(sys.modules.get(t), "__file__", None))}))
"""


def test_the_image_serves_studio_built_as_the_build_script_builds_it(tmp_path: Path) -> None:
    """No Docker engine here: the image's studio stage runs the steps of
    scripts/build-studio.sh (npm ci from the lock file, npm run build), the app stage copies
    only its dist/ and points Studio at it; StudioConfig reads that setting as the image sets it."""
    stage = DOCKERFILE.split("FROM node:", 1)[1].split("\nFROM ", 1)[0]
    script = (ROOT / "scripts" / "build-studio.sh").read_text()
    assert "npm ci" in script and "npm run --silent build" in script
    assert "COPY studio/package.json studio/package-lock.json" in stage
    assert "RUN npm ci" in stage and "RUN npm run build" in stage
    copied = re.search(r"^COPY --from=studio /src/studio/dist (\S+)$", DOCKERFILE, re.MULTILINE)
    assert copied, "the app stage does not copy the bundle"
    env = re.search(r"^ENV SAGE_DIST_DIR=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert env and env.group(1) == copied.group(1)
    from sage_runtime.config import load_config
    from sage_studio.config import StudioConfig

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    config = load_config(StudioConfig, env={"SAGE_DIST_DIR": str(bundle)})
    assert config.dist_dir == str(bundle)


def test_setup_and_the_image_install_from_the_one_list() -> None:
    for text, where in ((SETUP, "scripts/setup.sh"), (DOCKERFILE, "deploy/Dockerfile")):
        assert "scripts/install-python.sh" in text, where
        assert "scripts/install-llamacpp.sh" in text, where
        assert "pip install" not in text, f"{where} installs Python packages past the one list"
    assert re.search(r"install-python\.sh standard\b", DOCKERFILE)
    assert "pip-nodeps.txt" in INSTALL
    # dev (setup's default) is standard plus test tools, so the services get the same set
    assert _closure(_profile_extras("standard")) <= _closure(_profile_extras("dev"))


def test_the_image_runs_as_a_non_root_user() -> None:
    app = DOCKERFILE.split("FROM ${ENVOY_IMAGE}")[0]
    users = re.findall(r"^USER\s+(\S+)", app, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")


def _probe(python: str, cwd: Path = ROOT) -> dict:
    allowed = _closure(_profile_extras("standard")) | _nodeps() | _script_installed()
    allowed |= {canonicalize_name(n) for n in FIRST_PARTY}
    probe = subprocess.run(
        [python, "-c", PROBE, json.dumps(sorted(allowed))],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.splitlines()[-1])
    _check(found, allowed)
    return found


def _check(found: dict, allowed: set[str]) -> None:
    assert found["engine"] in ("transformers", "llamacpp")  # a real engine, not the mock
    outside = {  # a top-level name several distributions share (google) needs one of them
        top: dists
        for top, dists in found["owners"].items()
        if not {canonicalize_name(d) for d in dists} & allowed
    }
    assert not outside, f"imported by a service but not in the install list: {outside}"
    orphans = sorted(set(found["orphans"]) - FIRST_PARTY)
    assert not orphans, f"modules from no installed distribution: {orphans}"


def _quickstart(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "quickstart.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_quickstart_help_names_sages_flags() -> None:
    shown = _quickstart("--help")
    assert shown.returncode == 0
    for flag in ("--minimal", "--standard", "--dev", "--vllm", "--pip", "--yes", "--help"):
        assert flag in shown.stdout


def test_quickstart_refuses_an_unknown_flag_and_asks_nobody_without_yes() -> None:
    bad = _quickstart("--everything")
    assert bad.returncode == 2 and "unknown option '--everything'" in bad.stderr
    unasked = _quickstart("--minimal", "--pip")  # stdin is no terminal and there is no --yes
    assert unasked.returncode == 2 and "pass --yes" in unasked.stderr
    assert "extras [minimal]" in unasked.stderr and "pip only" in unasked.stderr


def test_every_service_and_its_default_engine_load_from_the_list() -> None:
    _probe(sys.executable)


@step("dockerfile-install")
def _dockerfile_install(scratch: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The image's install step, the same script, in a fresh venv under ``scratch``."""
    found = re.search(r"^RUN (bash scripts/install-python\.sh [^&\n]+)", DOCKERFILE, re.MULTILINE)
    assert found, "deploy/Dockerfile does not run scripts/install-python.sh"
    bin_dir = fresh_venv(scratch / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    ran = subprocess.run(
        ["bash", "-c", found.group(1).strip()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "PYTHON": str(bin_dir / "python"), "PIP_NO_CACHE_DIR": "0"},
    )
    return ran, scratch


@pytest.mark.slow
@pytest.mark.timeout(900)  # it may wait for the steps queued before it
@pytest.mark.background("dockerfile-install")  # builds the native core on the idle core
def test_the_dockerfiles_install_step_in_a_clean_venv(background: Background) -> None:
    """No Docker engine here: the image's install step, the same script, in a fresh venv that
    sees this machine's installed dependencies but not the project, then the services' imports."""
    ran, scratch = background.result("dockerfile-install")
    assert ran.returncode == 0, ran.stderr[-3000:]
    found = _probe(str(scratch / "venv" / "bin" / "python"), cwd=scratch)  # what was installed
    assert found["native"].startswith(str(scratch / "venv")), found["native"]
