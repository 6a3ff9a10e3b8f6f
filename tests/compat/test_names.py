"""Every SAGE import path of the table resolves to SAGE Mesh's own object."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import sage
from sage._finder import resolve
from sage._names import MODULES, markdown

ENTRIES = [
    (module, name, target) for module, names in MODULES.items() for name, target in names.items()
]


@pytest.mark.parametrize(("module", "name", "target"), ENTRIES, ids=lambda v: str(v))
def test_every_sage_name_is_the_sage_mesh_object(module: str, name: str, target: str) -> None:
    sage_module = importlib.import_module(module)
    assert getattr(sage_module, name) is resolve(target)


def test_from_import_star_gives_every_mapped_name() -> None:
    scope: dict[str, object] = {}
    exec("from sage.common.core.functions import *", scope)
    assert set(MODULES["sage.common.core.functions"]) <= set(scope)


def test_a_name_sage_mesh_does_not_map_says_so_and_lists_what_is_there() -> None:
    module = importlib.import_module("sage.kernel.api.local_environment")
    with pytest.raises(AttributeError) as info:
        module.NoSuchThing  # noqa: B018
    assert "LocalEnvironment" in str(info.value) and "docs/sage-compat.md" in str(info.value)


def test_an_unknown_sage_module_is_not_importable() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("sage.kernel.api.not_a_module")


def test_parent_packages_reach_their_children_as_attributes() -> None:
    import sage.kernel

    assert sage.kernel.api.local_environment.LocalEnvironment.__module__.startswith("sage_client")


def test_sage_has_a_version() -> None:
    assert sage.__version__


def test_importing_sage_client_never_imports_sage() -> None:
    probe = "import sys, sage_client; sys.exit(1 if 'sage' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


def test_the_docs_table_lists_every_entry() -> None:
    table = markdown()
    assert all(f"`{module}.{name}`" in table for module, name, _ in ENTRIES)


def test_docs_sage_compat_md_holds_the_current_table() -> None:
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "sage-compat.md"
    assert markdown() in doc.read_text(), "regenerate the table: python -m sage._names"
