"""SAGE's ``load_config(path)`` and ``SagePorts``."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import yaml

_MARKERS = ("setup.py", "pyproject.toml", ".git", "config")


def _root_of(caller_file: str | None) -> Path:
    if not caller_file:
        return Path.cwd()
    root = Path(caller_file).resolve().parent
    for _ in range(10):
        if root.parent == root or any((root / m).exists() for m in _MARKERS):
            break
        root = root.parent
    return root


def load_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A YAML config as a dict. ``path``: absolute; a bare file name (looked up in
    ``<project>/config/``); or relative to the caller's project directory (the first parent of
    the calling file holding ``config/``, ``pyproject.toml``, ``setup.py`` or ``.git``). Then
    ``SAGE_CONFIG``, then ``~/.sage/config.yaml``. FileNotFoundError lists what was tried."""
    frame = inspect.currentframe()
    caller = frame.f_back.f_globals.get("__file__") if frame and frame.f_back else None
    root = _root_of(caller)
    candidates: list[Path] = []
    if path:
        raw = Path(path)
        if raw.is_absolute():
            candidates.append(raw)
        elif not raw.parent.parts:
            candidates += [root / "config" / raw, Path.cwd() / raw]
        else:
            candidates += [root / raw, Path.cwd() / raw]
    if os.getenv("SAGE_CONFIG"):
        candidates.append(Path(os.environ["SAGE_CONFIG"]))
    candidates.append(Path.home() / ".sage" / "config.yaml")
    for candidate in candidates:
        if candidate.is_file():
            with candidate.open(encoding="utf-8") as f:
                return yaml.safe_load(f) or {}
    raise FileNotFoundError("no config file found; tried: " + ", ".join(str(c) for c in candidates))


class SagePorts:
    """SAGE's well-known ports, with the mesh's own where it has one (topology.yaml)."""

    GATEWAY_DEFAULT = 8000  # the mesh's gateway (SAGE: 8888)
    LLM_DEFAULT = 8001
    LLM_SECONDARY = 8002
    EMBEDDING_DEFAULT = 8090
    EMBEDDING_SECONDARY = 8091
    BENCHMARK_LLM = 8901
    BENCHMARK_EMBEDDING = 8902
    STUDIO_FRONTEND = 5173
    JOBMANAGER_DEFAULT = 19001  # the mesh's kernel job manager (topology.yaml)

    @classmethod
    def get_recommended_llm_port(cls) -> int:
        return cls.LLM_DEFAULT

    @classmethod
    def is_available(cls, port: int, host: str = "127.0.0.1") -> bool:
        import socket

        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex((host, port)) != 0
