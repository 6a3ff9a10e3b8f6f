"""The connectors package exports each connector lazily, from its own module."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sage_client.dataflow.connectors as connectors
from tests.connectors.conftest import ROOT


def test_every_exported_name_comes_from_its_module():
    for name in connectors.__all__:
        exported = getattr(connectors, name)
        assert exported.__name__ == name
        assert exported.__module__.startswith("sage_client.dataflow.connectors.")


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NoSuchSink"):
        connectors.NoSuchSink  # noqa: B018


def test_importing_the_package_loads_no_client_library():
    code = (
        "import sys, sage_client.dataflow.connectors as c; c.DatabaseSink; c.RedisStreamSink;"
        "print(sorted(m for m in ('kafka', 'psycopg') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
