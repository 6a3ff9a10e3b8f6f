"""Helpers shared by the dataflow tests."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sage_client import LocalEnvironment, SinkFunction


class Collect(SinkFunction):
    """A sink that appends into a list shared by every parallel instance."""

    def __init__(self, out: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = out
        self.lock = threading.Lock()

    def execute(self, data: Any) -> None:
        with self.lock:
            self.out.append(data)


@pytest.fixture
def env() -> LocalEnvironment:
    return LocalEnvironment("test")
