"""``self.ctx`` of a running function: identity, current key, keyed state, logger, services."""

from __future__ import annotations

import logging
from typing import Any

from sage_client.dataflow.runtime.state import (
    _NO_KEY,
    ListState,
    MapState,
    MemoryStateBackend,
    StateBackend,
    ValueState,
)


class RuntimeContext:
    def __init__(
        self,
        *,
        job_name: str,
        operator_name: str,
        parallel_index: int,
        parallelism: int,
        services: Any,
        state: StateBackend | None = None,
    ) -> None:
        self.job_name = job_name
        self.name = operator_name
        self.parallel_index = parallel_index
        self.parallelism = parallelism
        self.services = services
        self.state: StateBackend = state if state is not None else MemoryStateBackend()
        self.current_key: Any = _NO_KEY
        self.logger = logging.getLogger(f"sage.job.{job_name}.{operator_name}[{parallel_index}]")

    @property
    def env_name(self) -> str:
        return self.job_name

    def call_service(self, name: str, *args: Any, method: str = "process", **kwargs: Any) -> Any:
        """SAGE's ``ctx.call_service(name, ...)``: as ``self.call_service`` of the function."""
        timeout = kwargs.pop("timeout", None)
        return self.services.call(name, method, args, kwargs, timeout)

    def get_service(self, name: str) -> Any:
        return self.services.instance(name)

    def get_key(self) -> Any:
        """The key of the record being processed (None on a stream that was never keyed)."""
        key = self.current_key
        return None if key is _NO_KEY else key

    def value_state(self, name: str, default: Any = None) -> ValueState:
        return ValueState(self.state.table(f"value:{name}"), self, name, default)

    def list_state(self, name: str) -> ListState:
        return ListState(self.state.table(f"list:{name}"), self, name)

    def map_state(self, name: str) -> MapState:
        return MapState(self.state.table(f"map:{name}"), self, name)
