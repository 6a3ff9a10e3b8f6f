"""The CLI's own settings: ``~/.sage/config.yaml`` (SAGE's place for it; ``SAGE_CLI_CONFIG``
names another file), written by ``sage config init``, shown by ``sage config show``.

What it holds are defaults of the commands (the run directory, the job manager's port...);
a flag on the command line wins over the file, and for discovery ``SAGE_ETCD_ENDPOINTS`` wins.
Keys SAGE's own file has and SAGE Mesh does not use are kept and shown as unused.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import yaml

CONFIG_ENV = "SAGE_CLI_CONFIG"
JOBMANAGER_PORT = 19001  # SAGE's JobManager port (SagePorts), RemoteEnvironment's default

DEFAULTS: dict[str, Any] = {
    "run_dir": "run",
    "etcd_endpoints": [],
    "jobmanager": {"host": "127.0.0.1", "port": JOBMANAGER_PORT},
    "gateway": {"host": "127.0.0.1", "port": 8000},
    "llm": {"backend": "auto", "model_path": ""},
}
_TEMPLATE_HEAD = """\
# SAGE Mesh CLI settings (`sage config show` prints what is in effect).
# Command-line flags win over this file; SAGE_ETCD_ENDPOINTS wins over etcd_endpoints.
#   run_dir:        where `sage mesh up` / `sage jobmanager start` keep pids, logs, data, secrets
#   etcd_endpoints: where the CLI finds the mesh (empty: the run directory's etcd when it runs)
#   jobmanager:     `sage jobmanager start` (19001: SAGE's port, RemoteEnvironment's default)
#   gateway:        `sage gateway start`; llm: `sage llm serve` (backend auto|mock|transformers|...)
"""


class SettingsError(ValueError):
    """The settings file is unreadable or malformed; the message names it."""


def config_path(env: MutableMapping[str, str] | None = None) -> Path:
    named = (os.environ if env is None else env).get(CONFIG_ENV, "")
    return Path(named).expanduser() if named else Path.home() / ".sage" / "config.yaml"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_file(path: Path | None = None) -> dict[str, Any]:
    """The file's contents ({} when it does not exist)."""
    path = path or config_path()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold a mapping of settings, not {type(data).__name__}")
    return data


def load(path: Path | None = None) -> dict[str, Any]:
    """The defaults overridden by the file."""
    settings = _merge(DEFAULTS, read_file(path))
    port = settings["jobmanager"].get("port")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise SettingsError(
            f"{path or config_path()}: jobmanager.port must be a port number, not {port!r}"
        )
    if isinstance(settings["etcd_endpoints"], str):
        settings["etcd_endpoints"] = [
            e.strip() for e in settings["etcd_endpoints"].split(",") if e.strip()
        ]
    return settings


def load_or_defaults() -> dict[str, Any]:
    """The settings, or the defaults when the file is broken (``sage config show`` says why)."""
    try:
        return load()
    except SettingsError:
        return copy.deepcopy(DEFAULTS)


def template() -> str:
    return _TEMPLATE_HEAD + yaml.safe_dump(DEFAULTS, sort_keys=False)


def run_dir_etcd(run_dir: Path | str) -> str | None:
    """``127.0.0.1:PORT`` of the run directory's etcd when its process is alive."""
    from sage_deploy.processes import pid_alive

    run = Path(run_dir)
    try:
        pid = int((run / "pids" / "etcd.pid").read_text().strip())
        port = json.loads((run / "state.json").read_text())["ports"]["etcd"]
    except (OSError, ValueError, KeyError):
        return None
    return f"127.0.0.1:{port}" if pid > 0 and pid_alive(pid) else None


def export_discovery(env: MutableMapping[str, str] | None = None) -> str | None:
    """Set ``SAGE_ETCD_ENDPOINTS`` when it is unset, from the settings file or the default run
    directory's live etcd, so that `sage job list` finds the job manager `sage jobmanager
    start` started; what it was set to (None: left alone)."""
    env = os.environ if env is None else env
    if env.get("SAGE_ETCD_ENDPOINTS"):
        return None
    settings = load_or_defaults()
    endpoints = ",".join(settings["etcd_endpoints"]) or run_dir_etcd(settings["run_dir"])
    if endpoints:
        env["SAGE_ETCD_ENDPOINTS"] = endpoints
    return endpoints or None
