"""`sage config show|init`: the CLI's settings file (``~/.sage/config.yaml``, see settings.py)
and the environment the commands run with."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from sage_cli import settings as cli_settings

_ENV = ("SAGE_ETCD_ENDPOINTS", "SAGE_SECRETS_FILE", "SAGE_PRINCIPAL", "SAGE_KERNEL_ADDR")


def effective() -> dict[str, Any]:
    """What the commands use: the settings, where they came from, and the environment."""
    path = cli_settings.config_path()
    from_file = cli_settings.read_file(path)
    values = cli_settings.load(path)
    unused = sorted(set(from_file) - set(cli_settings.DEFAULTS))
    from sage_client.credentials import TOKEN_ENV, secrets_path

    secrets = secrets_path()
    env = {name: os.environ[name] for name in _ENV if os.environ.get(name)}
    if os.environ.get(TOKEN_ENV):
        env[TOKEN_ENV] = "(set; not shown)"
    return {
        "file": str(path),
        "file_exists": path.exists(),
        "settings": {k: values[k] for k in cli_settings.DEFAULTS},
        "unused_keys": unused,  # e.g. SAGE's own head/workers sections
        "environment": env,
        "secrets_file": str(secrets) if secrets else None,
        "mesh_etcd": ",".join(values["etcd_endpoints"])
        or os.environ.get("SAGE_ETCD_ENDPOINTS")
        or cli_settings.run_dir_etcd(values["run_dir"]),
    }


def _show(args: argparse.Namespace) -> int:
    try:
        found = effective()
    except cli_settings.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    where = found["file"] if found["file_exists"] else f"{found['file']} (absent: defaults)"
    print(f"# settings: {where}")
    print(yaml.safe_dump(found["settings"], sort_keys=False).rstrip())
    if found["unused_keys"]:
        print(f"# in the file, not used by SAGE Mesh: {', '.join(found['unused_keys'])}")
    print("# environment:")
    for name, value in found["environment"].items() or [("(none of SAGE_*)", "")]:
        print(f"#   {name}={value}" if value else f"#   {name}")
    print(f"# secrets file: {found['secrets_file'] or 'none found (sage mesh up writes one)'}")
    print(f"# mesh (etcd): {found['mesh_etcd'] or 'not running (sage mesh up)'}")
    return 0


def _init(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser() if args.path else cli_settings.config_path()
    if path.exists() and not args.force:
        print(f"error: {path} exists; --force replaces it", file=sys.stderr)
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cli_settings.template())
    print(f"wrote {path}")
    return 0


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("config", help="show or create the CLI's settings file")
    sub = parser.add_subparsers(dest="action", required=True, metavar="VERB")
    show = sub.add_parser("show", help="the settings in effect, and where they come from")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)
    init = sub.add_parser(
        "init", help=f"write the default settings file (default {cli_settings.config_path()})"
    )
    init.add_argument(
        "--path", help=f"where (default: {cli_settings.CONFIG_ENV}, else ~/.sage/config.yaml)"
    )
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(func=_init)
