"""Keyed state behind a small backend interface, so a checkpointing backend can snapshot it.

Operators never hold keyed data in their own attributes: they ask the backend for a named
table (key -> value). ``snapshot``/``restore`` cover every table, window state included.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

_MISSING = object()


class StateBackend(Protocol):
    def table(self, name: str) -> dict[Any, Any]:
        """The mutable mapping key -> state for state ``name`` (created empty on first use)."""
        ...

    def snapshot(self) -> dict[str, dict[Any, Any]]: ...

    def restore(self, snapshot: dict[str, dict[Any, Any]]) -> None: ...


class MemoryStateBackend:
    """Plain dicts in process memory."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[Any, Any]] = {}

    def table(self, name: str) -> dict[Any, Any]:
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = {}
        return table

    def snapshot(self) -> dict[str, dict[Any, Any]]:
        return copy.deepcopy(self._tables)

    def restore(self, snapshot: dict[str, dict[Any, Any]]) -> None:
        # in place: operators (windows) hold on to their table objects
        for name, rows in copy.deepcopy(snapshot).items():
            table = self.table(name)
            table.clear()
            table.update(rows)


class _KeyedView:
    """Binds a state table to the context's current key."""

    def __init__(self, table: dict[Any, Any], ctx: Any, name: str) -> None:
        self._table = table
        self._ctx = ctx
        self._name = name

    def _key(self) -> Any:
        key = self._ctx.current_key
        if key is _NO_KEY:
            raise RuntimeError(
                f"keyed state {self._name!r} used on a stream without a key; "
                "call .keyby(...) before this operator"
            )
        return key


_NO_KEY = object()


class ValueState(_KeyedView):
    def __init__(self, table: dict[Any, Any], ctx: Any, name: str, default: Any = None) -> None:
        super().__init__(table, ctx, name)
        self._default = default

    def value(self) -> Any:
        return self._table.get(self._key(), self._default)

    get = value

    def update(self, value: Any) -> None:
        self._table[self._key()] = value

    set = update

    def clear(self) -> None:
        self._table.pop(self._key(), None)


class ListState(_KeyedView):
    def get(self) -> list[Any]:
        return list(self._table.get(self._key(), ()))

    def add(self, value: Any) -> None:
        self._table.setdefault(self._key(), []).append(value)

    append = add

    def update(self, values: list[Any]) -> None:
        self._table[self._key()] = list(values)

    def clear(self) -> None:
        self._table.pop(self._key(), None)


class MapState(_KeyedView):
    def _map(self) -> dict[Any, Any]:
        return self._table.setdefault(self._key(), {})

    def get(self, field: Any, default: Any = None) -> Any:
        return self._table.get(self._key(), {}).get(field, default)

    def put(self, field: Any, value: Any) -> None:
        self._map()[field] = value

    def contains(self, field: Any) -> bool:
        return field in self._table.get(self._key(), {})

    def remove(self, field: Any) -> None:
        self._table.get(self._key(), {}).pop(field, None)

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._table.get(self._key(), {}).items())

    def keys(self) -> list[Any]:
        return list(self._table.get(self._key(), {}))

    def values(self) -> list[Any]:
        return list(self._table.get(self._key(), {}).values())

    def clear(self) -> None:
        self._table.pop(self._key(), None)
