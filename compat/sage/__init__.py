"""SAGE's import paths, mapped onto SAGE Mesh's one implementation.

SAGE programs write ``from sage.kernel.api.local_environment import LocalEnvironment``; here
every such module is made from the table in ``sage._names`` (SAGE module -> names -> the SAGE
Mesh object each one is), so the classes a SAGE program gets *are* ``sage_client``'s: nothing is
implemented twice. The package holds only these mappings and a few API-shape adapters
(``sage._adapters``); ``import sage_client`` never imports it. See docs/sage-compat.md.
"""

from __future__ import annotations

from sage._finder import install

__version__ = "0.2.0+mesh"  # the SAGE API level this namespace follows (classic, Dec 2025)

install()
