"""Typed configuration: YAML overridden by SAGE_* variables, errors naming key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_kv.config import KVConfig
from sage_runtime.config import ConfigError, load_config


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kv.yaml"
    path.write_text("port: 7000\nbackend: redis\nmax_value_bytes: 1024\n")
    config = load_config(
        KVConfig, path, env={"SAGE_PORT": "7001", "SAGE_ETCD_ENDPOINTS": "a:1,b:2"}
    )
    assert (config.port, config.backend, config.max_value_bytes) == (7001, "redis", 1024)
    assert config.etcd_endpoints == ["a:1", "b:2"]


def test_bad_value_names_key_value_and_source() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(KVConfig, env={"SAGE_PORT": "seventy"})
    assert "port='seventy'" in str(info.value) and "SAGE_PORT" in str(info.value)


def test_out_of_range_value_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "kv.yaml"
    path.write_text("backend: cassandra\n")
    with pytest.raises(ConfigError) as info:
        load_config(KVConfig, path, env={})
    assert "backend='cassandra'" in str(info.value) and str(path) in str(info.value)


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "kv.yaml"
    path.write_text("prot: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'prot'"):
        load_config(KVConfig, path, env={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(KVConfig, tmp_path / "nope.yaml", env={})
