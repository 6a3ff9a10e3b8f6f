"""The API client's provider registry: where each named provider is and its key.

``config.yaml`` (seed 000's shape; the file named by ``SAGE_MIDDLEWARE_CONFIG``, else
``./config.yaml``, else ``~/.sage/config.yaml``)::

    middleware:
      auth: {secret_key: "...", algorithm: HS256}
      providers:
        openai: {api_key: "sk-...", base_url: "https://api.openai.com/v1"}
        local:  {base_url: "http://127.0.0.1:8001/v1", model: "Qwen/Qwen2.5-7B-Instruct"}

A provider missing from the file, or a field it lacks, falls back to the environment:
``<NAME>_API_KEY`` and ``<NAME>_BASE_URL`` (``OPENAI_API_KEY``...; DashScope also reads
``ALIBABA_API_KEY``), then the built-in base URLs below. ``sage`` is the mesh's own gateway
(``SAGE_GATEWAY_URL``, else Envoy of the mesh under ``./run``, else 127.0.0.1:8080) with
``SAGE_API_KEY`` (a key from ``sage keys create``) or a JWT.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONFIG_ENV = "SAGE_MIDDLEWARE_CONFIG"
BUILTIN_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "dashscope": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "vllm": "http://127.0.0.1:8000/v1",
    "ollama": "http://127.0.0.1:11434/v1",
}
EXTRA_KEY_ENVS = {"dashscope": ("ALIBABA_API_KEY",)}


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    api_key: str = ""
    model: str = ""  # the default model of calls that name none
    timeout_s: float | None = None


def config_file(env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    named = env.get(CONFIG_ENV, "")
    if named:
        return Path(named).expanduser()
    for candidate in (Path("config.yaml"), Path.home() / ".sage" / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None


def middleware_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The parsed config file ({} when there is none); ValueError naming a broken one."""
    file = Path(path) if path is not None else config_file()
    if file is None:
        return {}
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except FileNotFoundError:
        raise ValueError(f"config file {file} does not exist") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read config file {file}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {file} must hold a mapping")
    return data


def _mesh_gateway_url() -> str:
    try:
        ports = json.loads(Path("run/state.json").read_text())["ports"]
        return f"http://127.0.0.1:{int(ports['envoy'])}/v1"
    except (OSError, ValueError, KeyError, TypeError):
        return "http://127.0.0.1:8080/v1"


def _env_prefix(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def resolve_provider(
    name: str, config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Provider:
    """Provider ``name`` from ``config`` (the whole config.yaml mapping) and the environment;
    ValueError saying what to configure when it has no base URL."""
    env = os.environ if env is None else env
    if not isinstance(name, str) or not name.strip():
        raise ValueError("provider must be named, e.g. provider='openai' or provider='sage'")
    providers = ((config or {}).get("middleware") or {}).get("providers") or {}
    entry = providers.get(name) or {}
    if not isinstance(entry, Mapping):
        raise ValueError(f"middleware.providers.{name} must be a mapping of api_key, base_url")
    prefix = _env_prefix(name)
    key_envs = (f"{prefix}_API_KEY", *EXTRA_KEY_ENVS.get(name, ()))
    api_key = str(entry.get("api_key") or next((env[k] for k in key_envs if env.get(k)), ""))
    base_url = str(entry.get("base_url") or env.get(f"{prefix}_BASE_URL", ""))
    if not base_url:
        if name == "sage":
            base_url = env.get("SAGE_GATEWAY_URL", "") or _mesh_gateway_url()
        else:
            base_url = BUILTIN_BASE_URLS.get(name, "")
    if not base_url:
        known = sorted({*providers, *BUILTIN_BASE_URLS, "sage"})
        raise ValueError(
            f"provider {name!r} has no base_url: set middleware.providers.{name}.base_url in "
            f"config.yaml or {prefix}_BASE_URL (configured or built in: {', '.join(known)})"
        )
    timeout = entry.get("timeout_s")
    return Provider(
        name=name,
        base_url=base_url.rstrip("/"),
        api_key=api_key,
        model=str(entry.get("model") or env.get(f"{prefix}_MODEL", "")),
        timeout_s=float(timeout) if timeout is not None else None,
    )
