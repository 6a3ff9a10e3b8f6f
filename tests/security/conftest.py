"""The attack suite's mesh: the client tests' live mesh (etcd, Redis, every service, Envoy in
front, on ephemeral ports), started once for tests/security as well."""

from __future__ import annotations

import os

import pytest

from sage_client.credentials import principal_token
from tests.clients.conftest import live_mesh  # noqa: F401 - the fixture, shared


@pytest.fixture(scope="session")
def tokens() -> dict[str, str]:
    """Every principal's token in this run's mesh secrets (see tests/conftest.py)."""
    path = os.environ["SAGE_SECRETS_FILE"]
    return {
        name: principal_token(name, path)
        for name in ("admin", "service", "gateway", "memory", "jobs", "tester")
    }
