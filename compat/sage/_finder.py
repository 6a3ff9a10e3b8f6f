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
import sys
import types
from typing import Any

from sage._names import MODULES


def resolve(target: str) -> Any:
    """``"package.module:attr"`` -> the object; ``"package.module"`` -> the module."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def _packages() -> set[str]:
    names = set()
    for module in MODULES:
        parts = module.split(".")
        names.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    return names


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


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _PACKAGES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _LOADER, is_package=True)


_PACKAGES = _packages()
_LOADER = _Loader()
_FINDER = _Finder()


def install() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
