"""Typed service configuration: a YAML file overridden by SAGE_* environment variables.

Every field of a config model can be set in the YAML file (same name) or by the
environment variable ``SAGE_<FIELD>`` (upper case); the environment wins. List
fields take comma-separated values from the environment. Validation happens once,
at start, and a failure names the key, the value and where it came from.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "SAGE_"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and value."""


class ServiceConfig(BaseModel):
    """Settings every service shares."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex[:12], min_length=1, max_length=128
    )
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    advertise_host: str = Field(
        default="", description="address published in etcd; defaults to host"
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="None disables /metrics; 0 picks a free port"
    )
    etcd_endpoints: list[str] = Field(
        default_factory=list, description="host:port of etcd; empty disables registration"
    )
    registration_ttl_s: float = Field(default=10.0, ge=2.0, le=3600.0)
    grace_period_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    secrets_file: str = Field(
        default="",
        description="the mesh's secrets file (principals, tokens, roles); "
        "`sage mesh up` writes run/secrets/mesh.json",
    )
    auth_tokens: list[str] = Field(
        default_factory=list, description="extra bearer tokens accepted as admin"
    )
    allow_anonymous: bool = Field(
        default=False,
        description="serve callers without a credential as admin: "
        "a development instance nobody else can reach; never in a mesh",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    ready_file: str = Field(default="", description="written with the bound address once SERVING")
    max_message_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=2**31 - 1)
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto",
        description="auto: uvloop when it is installed (a cheaper loop per call), else asyncio",
    )
    data_dir: str = "./data"


C = TypeVar("C", bound=ServiceConfig)


def _env_value(raw: str, annotation: Any) -> Any:
    if get_origin(annotation) is list or annotation is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if raw.lower() in ("null", "none") and "None" in repr(annotation):
        return None
    return raw


def _describe(
    model: type[BaseModel],
    err: ValidationError,
    sources: Mapping[str, str],
    values: Mapping[str, Any],
) -> str:
    lines = []
    for item in err.errors():
        key = ".".join(str(p) for p in item["loc"]) or "<root>"
        top = str(item["loc"][0]) if item["loc"] else ""
        where = sources.get(top, "default")
        if item["type"] == "extra_forbidden":
            known = ", ".join(sorted(model.model_fields))
            lines.append(f"unknown key {key!r} (from {where}); known keys: {known}")
        else:
            lines.append(f"{key}={values.get(top)!r} (from {where}): {item['msg']}")
    return f"invalid {model.__name__} configuration:\n  " + "\n  ".join(lines)


def load_config(
    model: type[C],
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> C:
    """Build ``model`` from an optional YAML file, the environment and keyword overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path = path or env.get(f"{ENV_PREFIX}CONFIG") or None
    if path:
        file = Path(path)
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"configuration file {str(file)!r} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"configuration file {str(file)!r} is not valid YAML: {exc}"
            ) from None
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"configuration file {str(file)!r} must hold a mapping, not {type(loaded).__name__}"
            )
        values.update(loaded)
        sources.update({k: str(file) for k in loaded})
    for name, field in model.model_fields.items():
        var = f"{ENV_PREFIX}{name.upper()}"
        if var in env:
            values[name] = _env_value(env[var], field.annotation)
            sources[name] = var
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
            sources[name] = "command line"
    try:
        return model(**values)
    except ValidationError as err:
        raise ConfigError(_describe(model, err, sources, values)) from None
