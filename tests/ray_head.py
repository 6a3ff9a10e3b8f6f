"""One Ray head per test session, shared by every test that asks for ``ray_address`` (the jobs
and the compat tests): defined once here and imported by tests/conftest.py, so pytest keeps a
single instance (two definitions of a session fixture would start two heads whose auth tokens
overwrite each other in the environment)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sage_kernel.ray_head import LocalRayHead


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A Ray cluster run by the job workers' user, token auth on; the job managers this session
    starts (and so their workers) read the token's path from the environment."""
    with LocalRayHead(num_cpus=2) as head:
        head.export_auth()
        yield head.address
