"""The import hook that makes SAGE's modules from the table in ``sage._names``.

A SAGE module in the table becomes a module object whose attributes are looked up in SAGE
Mesh on first use (``module.__getattr__``), so importing ``sage.kernel.api`` loads nothing
until a name is read, and a name always *is* the SAGE Mesh object (``LocalEnvironment`` swapped
by ``sage job submit`` is seen here too). Every prefix of a listed module is a package.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

from sage._names import MODULE_ALIASES, MODULES


def resolve(target: str) -> Any:
    """``"package.module:attr"`` -> the object; ``"package.module"`` -> the module."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def _packages() -> set[str]:
    names: set[str] = set()
    for module in [*MODULES, *MODULE_ALIASES]:
        parts = module.split(".")
        names.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    return names - set(MODULE_ALIASES)


class _CompatModule(types.ModuleType):
    """A SAGE module: its names resolve lazily to SAGE Mesh objects."""

    def __getattr__(self, name: str) -> Any:
        table = MODULES.get(self.__name__, {})
        target = table.get(name)
        if target is None:
            sub = f"{self.__name__}.{name}"
            if sub in _PACKAGES:  # ``import sage.kernel`` then ``sage.kernel.api``
                return importlib.import_module(sub)
            raise AttributeError(
                f"module {self.__name__!r} has no attribute {name!r} in SAGE Mesh's "
                f"compatibility layer (it maps: {', '.join(sorted(table)) or 'nothing'}); "
                "see docs/sage-compat.md"
            )
        return resolve(target)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(MODULES.get(self.__name__, {})))


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _CompatModule(spec.name)
        module.__all__ = sorted(MODULES.get(spec.name, {}))  # type: ignore[attr-defined]
        module.__path__ = []  # type: ignore[attr-defined]  # every SAGE module may have children
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__doc__ = f"SAGE's {module.__name__}, mapped onto SAGE Mesh (docs/sage-compat.md)."


class _AliasLoader(importlib.abc.Loader):
    """A SAGE module that is one SAGE Mesh module as a whole: importing it gives that very
    module object; ``python -m`` runs that module's code (``get_code``)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(self.target)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Already executed under its own name; keep its own spec (import set ours)."""
        module.__spec__ = self._own_spec

    def is_package(self, fullname: str) -> bool:
        return False

    def get_code(self, fullname: str) -> types.CodeType | None:
        spec = importlib.util.find_spec(self.target)
        if spec is None or not spec.origin:
            raise ImportError(f"{fullname} maps onto {self.target}, which has no source")
        with open(spec.origin, "rb") as source:  # editable installs wrap the file loader
            return compile(source.read(), spec.origin, "exec")


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in MODULE_ALIASES:
            return importlib.machinery.ModuleSpec(
                fullname, _AliasLoader(MODULE_ALIASES[fullname]), is_package=False
            )
        if fullname not in _PACKAGES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _LOADER, is_package=True)


_PACKAGES = _packages()
_LOADER = _Loader()
_FINDER = _Finder()


def install() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
