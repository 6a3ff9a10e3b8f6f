"""``sage.run_function``'s allow-list: a user's function is named, never sent.

A submission names ``"package.module:function"``; the worker imports it only when the module
is one the operator listed in ``allowed_modules`` (``SAGE_ALLOWED_MODULES``), or inside a
listed package. Nothing the submitter sends is unpickled or evaluated: the code that runs is
code the operator installed on the worker's machine.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from typing import Any

from sage_client.errors import InvalidArgument, PermissionDenied

_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")


def _allowed(module: str, allowed: Iterable[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed if a)


def resolve(ref: str, allowed: Iterable[str]) -> Callable[..., Any]:
    """The function ``ref`` names; InvalidArgument / PermissionDenied saying why not."""
    if not isinstance(ref, str) or not _NAME.match(ref):
        raise InvalidArgument(
            f"function must be 'package.module:function' (identifiers only), got {ref!r}"
        )
    module_name, _, attr = ref.partition(":")
    allowed = [a.strip() for a in allowed]
    if not _allowed(module_name, allowed):
        listed = ", ".join(a for a in allowed if a) or "none"
        raise PermissionDenied(
            f"module {module_name!r} is not on this worker's allow-list (allowed_modules: "
            f"{listed}); the operator adds it with SAGE_ALLOWED_MODULES"
        )
    if attr.startswith("_"):
        raise PermissionDenied(f"{ref!r} names a private function; only public ones may run")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgument(f"cannot import {module_name!r} on this worker: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InvalidArgument(f"{module_name!r} has no function {attr!r}")
    return fn
